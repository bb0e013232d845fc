"""The rule policy's lookup of the rules that fit a conversation, without repeated work.

The rule policy stores each rule as a JSON string and, to find the rules that fit a
conversation, parses every rule's string again for every turn of the conversation's
history, on every prediction (`RulePolicy._rule_key_to_state`: ~5% of a Rasa server's CPU
with this project's ~50 rules). The rules are fixed once the model is loaded, so each
string is parsed once; the parsed states are only read (never changed) by the policy.

`_get_possible_keys` then walks the whole history, turn by turn back in time, keeping the
rules that fit each turn; a rule shorter than the distance walked fits by definition
(`_is_rule_applicable` returns True), so the walk stops once it is past the longest rule
still in play: the same set of rules, without the rest of a long conversation. The answer
depends only on the lookup and the last states (as many as the longest rule has), and the
same few dialogue states recur across conversations, so it is remembered per lookup and
tail of states (~40% of the time of a prediction before).
"""

from __future__ import annotations

import json
from functools import lru_cache

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.generator import State

from deploy.rasa_patches.patching import Patch

_original_rule_key_to_state = RulePolicy._rule_key_to_state
_original_get_possible_keys = RulePolicy._get_possible_keys


@lru_cache(maxsize=8192)
def _rule_key_to_state(rule_key: str) -> list[State]:
    """`RulePolicy._rule_key_to_state`, remembered per key."""
    states: list[State] = json.loads(rule_key)
    return states


def _search(self: RulePolicy, lookup: dict[str, str], states: list[State]) -> set[str]:
    """`RulePolicy._get_possible_keys`, stopping past the longest rule still in play."""
    possible_keys = set(lookup.keys())
    for turn_index, state in enumerate(reversed(states)):
        if turn_index >= max((len(_rule_key_to_state(k)) for k in possible_keys), default=0):
            break  # every remaining rule is shorter than this: applicable from here on
        possible_keys = {
            key for key in possible_keys if self._is_rule_applicable(key, turn_index, state)
        }
    return possible_keys


class _Answers:
    """The rules found for each tail of states, for one lookup (kept alive here, so that
    its id cannot be reused; a lookup changed in size is a new one)."""

    LIMIT = 10_000  # tails remembered per lookup, so that memory stays bounded

    def __init__(self, lookup: dict[str, str]) -> None:
        self.lookup = lookup
        self.size = len(lookup)
        self.tail = max((len(_rule_key_to_state(k)) for k in lookup), default=0)
        self.found: dict[tuple, frozenset[str]] = {}

    def fits(self, lookup: dict[str, str]) -> bool:
        return self.lookup is lookup and self.size == len(lookup)


_answers: dict[int, _Answers] = {}


def _tail_key(states: list[State], tail: int) -> tuple:
    """The last `tail` states as a hashable value (a state is a dict of flat dicts)."""
    return tuple(
        tuple((name, tuple(sub.items())) for name, sub in state.items())
        for state in states[max(0, len(states) - tail) :]
    )


def _get_possible_keys(
    self: RulePolicy, lookup: dict[str, str], states: list[State]
) -> set[str]:
    """`RulePolicy._get_possible_keys`, remembered per lookup and tail of states."""
    answers = _answers.get(id(lookup))
    if answers is None or not answers.fits(lookup):
        if len(_answers) >= 16:  # lookups of models no longer served
            _answers.clear()
        answers = _answers[id(lookup)] = _Answers(lookup)
    try:
        key = _tail_key(states, answers.tail)
        found = answers.found.get(key)
    except TypeError:  # a state value that is not hashable: search without remembering
        return _search(self, lookup, states)
    if found is None:
        if len(answers.found) >= answers.LIMIT:
            answers.found.clear()
        found = answers.found[key] = frozenset(_search(self, lookup, states))
    return set(found)


PATCHES = (
    Patch(RulePolicy, "_rule_key_to_state", staticmethod(_rule_key_to_state)),
    Patch(RulePolicy, "_get_possible_keys", _get_possible_keys),
)
