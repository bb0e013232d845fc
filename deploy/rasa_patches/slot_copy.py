"""Slots copied without the generic `copy.copy` machinery.

Every tracker Rasa builds copies each slot of the domain (`DialogueStateTracker.__init__`:
`copy.copy(slot)`), and Rasa builds many: from the stored events, for every action
(`tracker.copy()` replays the conversation) and for every prediction (the dialogue states
replay it again). `copy.copy` goes through `__reduce_ex__` and `copyreg` for each slot (~4x
the time of what it amounts to: a new instance with the same attribute dictionary).
`Slot.__copy__` does exactly that; no slot class has `__slots__`, `__getstate__` or
`__setstate__` (`tests/deploy/test_rasa_patches.py` checks every one).
"""

from __future__ import annotations

from rasa.shared.core.slots import Slot

from deploy.rasa_patches.patching import Patch


def __copy__(self: Slot) -> Slot:  # noqa: N807 - the copy protocol's name
    """A shallow copy, as `copy.copy` makes it."""
    clone = object.__new__(type(self))
    clone.__dict__.update(self.__dict__)
    return clone


PATCHES = (Patch(Slot, "__copy__", __copy__),)
