"""The production profile's port blocks never overlap (a flaky start in `make bench`: the
action server was given the port nginx had been given a moment before)."""

from __future__ import annotations

from deploy.stack import _free_block


def test_blocks_of_one_profile_are_disjoint() -> None:
    for _ in range(50):
        taken: set[int] = set()
        blocks = [set(range(start, start + size))
                  for size in (3, 3, 1) for start in [_free_block(size, taken)]]
        assert len(set().union(*blocks)) == 7
