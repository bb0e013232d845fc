"""Rule keys parsed once.

The rule policy stores each rule as a JSON string and, to find the rules that fit a
conversation, parses every rule's string again for every turn of the conversation's
history, on every prediction (`RulePolicy._rule_key_to_state`: ~5% of a Rasa server's CPU
with this project's ~50 rules). The rules are fixed once the model is loaded, so each
string is parsed once; the parsed states are only read (never changed) by the policy.
"""

from __future__ import annotations

import json
from functools import lru_cache

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.generator import State

_original_rule_key_to_state = RulePolicy._rule_key_to_state


@lru_cache(maxsize=8192)
def _rule_key_to_state(rule_key: str) -> list[State]:
    """`RulePolicy._rule_key_to_state`, remembered per key."""
    states: list[State] = json.loads(rule_key)
    return states


def install() -> None:
    """Replaces `RulePolicy._rule_key_to_state`."""
    RulePolicy._rule_key_to_state = staticmethod(_rule_key_to_state)  # type: ignore[method-assign,assignment]


def installed() -> bool:
    """Whether `install` ran."""
    return RulePolicy._rule_key_to_state is _rule_key_to_state
