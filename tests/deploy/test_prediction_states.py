"""The rule policy of the trained model predicts the same with its dialogue states made once
per prediction (deploy/rasa_patches/prediction_states.py), on every step of the project's
own rules, with the customer's words as well as the intent in each message."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from deploy.rasa_patches import prediction_states
from deploy.rasa_patches.patching import apply, revert

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Agent:
    return Agent.load(str(trained_model))


def _rule_policy(agent: Agent) -> RulePolicy:
    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    (policy,) = [n._component for n in nodes if isinstance(n._component, RulePolicy)]
    return policy


def _steps(agent: Agent) -> list[DialogueStateTracker]:
    """Every point at which the project's rules have the bot act, as a live tracker."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importer = TrainingDataImporter.load_from_config(
            config_path=str(ROOT / "config.yml"),
            domain_path=str(ROOT / "domain"),
            training_data_paths=[str(ROOT / "data")],
        )
        rules = TrainingDataGenerator(
            importer.get_stories(), agent.domain, augmentation_factor=0
        ).generate()
    steps = []
    for rule in rules:
        events = []
        for event in rule.events:
            if isinstance(event, ActionExecuted) and event.action_name == RULE_SNIPPET_ACTION_NAME:
                continue
            if isinstance(event, UserUttered) and event.intent_name:
                # Words too, so that the search by text and the one by intent differ.
                event = UserUttered(f"说 {event.intent_name}", event.intent, event.entities)
            if isinstance(event, ActionExecuted):
                steps.append(
                    DialogueStateTracker.from_events("rules", list(events), agent.domain.slots)
                )
            events.append(event)
    return steps


def _outcome(policy: RulePolicy, tracker: DialogueStateTracker, domain) -> tuple:  # noqa: ANN001
    prediction, key = policy._predict(tracker, domain)
    return (
        prediction.probabilities,
        prediction.max_confidence_index,
        prediction.events,
        prediction.optional_events,
        prediction.is_no_user_prediction,
        key,
    )


def _replays(policy: RulePolicy, steps: list[DialogueStateTracker], domain) -> list[int]:  # noqa: ANN001
    """How many times each prediction turned the conversation into states."""
    counts: list[int] = []
    original = prediction_states._original_create_states
    patched = prediction_states.PATCHES[1].applied()

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        counts[-1] += 1
        return original(*args, **kwargs)

    if patched:
        prediction_states._original_create_states = counting
    else:
        from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer

        TrackerFeaturizer._create_states = staticmethod(counting)
    try:
        for tracker in steps:
            counts.append(0)
            _outcome(policy, tracker, domain)
    finally:
        prediction_states._original_create_states = original
        if not patched:
            TrackerFeaturizer._create_states = staticmethod(original)
    return counts


def test_predictions_are_rasas_on_every_rule_step(agent: Agent) -> None:
    policy = _rule_policy(agent)
    steps = _steps(agent)
    assert len(steps) > 100
    theirs = [_outcome(policy, tracker, agent.domain) for tracker in steps]
    their_replays = _replays(policy, steps, agent.domain)
    apply(prediction_states.PATCHES)
    try:
        ours = [_outcome(policy, tracker, agent.domain) for tracker in steps]
        our_replays = _replays(policy, steps, agent.domain)
    finally:
        revert(prediction_states.PATCHES)
    assert ours == theirs
    assert sum(1 for outcome in theirs if outcome[1] >= 0 and outcome[-1]) > 50  # rules fired
    # After a customer message Rasa mostly searched twice, each time replaying the
    # conversation; now every prediction replays it once.
    assert sum(1 for count in their_replays if count == 2) >= 20
    assert our_replays == [min(count, 1) for count in their_replays]
