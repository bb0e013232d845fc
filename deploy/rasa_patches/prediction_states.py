"""The dialogue states of a prediction worked out once per prediction, not twice.

`RulePolicy._predict` looks for a fitting rule twice, with the last user message as text
and as intent (`_find_action_from_rules`), and each search turns the whole conversation
into its dialogue states again (`TrackerFeaturizer._create_states`: the tracker is replayed
event by event, ~6% of a Rasa server's CPU). The tracker does not change during a
prediction, so inside `_predict` the states are made once and each search gets its own
copy: the searches then differ only in how `_choose_last_user_input` edits the copy (it
deletes keys of a state's sub-states, so states and sub-states are copied).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import State
from rasa.shared.core.trackers import DialogueStateTracker

from deploy.rasa_patches.patching import Patch

_original_predict = RulePolicy._predict
_original_create_states = TrackerFeaturizer._create_states
# Inside `RulePolicy._predict`: (tracker, options) -> its states, as first made.
_made: ContextVar[dict[tuple[Any, ...], tuple[DialogueStateTracker, list[State]]] | None]
_made = ContextVar("prediction_states", default=None)


def _predict(self: RulePolicy, tracker: DialogueStateTracker, domain: Domain) -> Any:
    """`RulePolicy._predict`, with the states of `tracker` made once."""
    token = _made.set({})
    try:
        return _original_predict(self, tracker, domain)
    finally:
        _made.reset(token)


def _copy(states: list[State]) -> list[State]:
    return [{name: dict(sub) for name, sub in state.items()} for state in states]


def _create_states(
    tracker: DialogueStateTracker,
    domain: Domain,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """`TrackerFeaturizer._create_states`, remembered within one rule prediction."""
    made = _made.get()
    if made is None:
        return _original_create_states(
            tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
    # The policy passes a new `rule_only_data` dict per search: keyed by its content.
    only = tuple(sorted((k, tuple(v)) for k, v in (rule_only_data or {}).items()))
    key = (id(tracker), id(domain), omit_unset_slots, ignore_rule_only_turns, only)
    entry = made.get(key)
    if entry is None:
        states = _original_create_states(
            tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        # The tracker is kept with its states, so that its id is not reused meanwhile.
        entry = made[key] = (tracker, _copy(states))
        return states
    return _copy(entry[1])


PATCHES = (
    Patch(RulePolicy, "_predict", _predict),
    Patch(TrackerFeaturizer, "_create_states", staticmethod(_create_states)),
)
