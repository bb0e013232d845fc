"""The domain the action server gets (deploy/rasa_patches/action_domain.py): Rasa's request
body with the responses left out, and the project's form validators answering exactly as
they do with the whole domain."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.changes import ValidateChangeForm
from actions.order_forms import ValidateOrderForm
from actions.problems import ValidateProblemForm
from actions.returns import ValidateReturnForm
from actions.shop.repository import ShopRepository
from deploy.rasa_patches import action_domain
from deploy.rasa_patches.patching import apply, revert

ENDPOINT = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=True)
VALIDATORS = [ValidateOrderForm, ValidateChangeForm, ValidateReturnForm, ValidateProblemForm]


@pytest.fixture(scope="module")
def domain() -> Domain:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Domain.load("domain")


@pytest.fixture()
def rasa_format() -> Iterator[Any]:
    """Rasa's own `_action_call_format`, with the patch installed for the test."""
    original = RemoteAction._action_call_format
    apply(action_domain.PATCHES)
    yield original
    revert(action_domain.PATCHES)
    assert RemoteAction._action_call_format is original


def _form_turn(domain: Domain, form: str, slots: dict[str, Any], text: str) -> DialogueStateTracker:
    """A customer's message inside `form`, with the slots Rasa extracted from it."""
    metadata = {"customer_id": "C1001", "channel": "web"}
    events = [
        SlotSet("customer_id", "C1001"),
        SlotSet("language", "zh"),
        ActionExecuted(form),
        ActiveLoop(form),
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "inform", "confidence": 0.95}, [], metadata=metadata),
        *(SlotSet(name, value) for name, value in slots.items()),
    ]
    return DialogueStateTracker.from_events("c-domain", events, slots=domain.slots)


TURNS = [
    ("order_form", {"order_id": "DD202611010001"}, "DD202611010001"),
    ("order_form", {"order_id": "DD209901019999"}, "DD209901019999"),  # no such order
    ("return_form", {"order_id": "DD202611010002"}, "我要退DD202611010002"),
    ("change_form", {"order_id": "DD202611010001"}, "改DD202611010001的地址"),
    ("problem_form", {"order_id": "DD202611010002"}, "DD202611010002坏了"),
]


@pytest.mark.parametrize(("form", "slots", "text"), TURNS)
def test_the_body_is_rasas_without_the_responses(rasa_format, domain, form, slots, text) -> None:
    tracker = _form_turn(domain, form, slots, text)
    action = RemoteAction(f"validate_{form}", ENDPOINT)
    theirs = rasa_format(action, tracker, domain)
    ours = action._action_call_format(tracker, domain)
    assert "responses" in theirs["domain"] and "responses" not in ours["domain"]
    assert ours == {**theirs, "domain": {k: v for k, v in theirs["domain"].items()
                                         if k != "responses"}}
    # Built once per domain: the next call sends the same object.
    assert action._action_call_format(tracker, domain)["domain"] is ours["domain"]


def test_an_action_without_send_domain_gets_no_domain(rasa_format, domain) -> None:
    tracker = _form_turn(domain, "order_form", {}, "你好")
    action = RemoteAction("action_order_status", ENDPOINT)
    assert "domain" not in action._action_call_format(tracker, domain)
    assert "domain" not in rasa_format(action, tracker, domain)


def test_a_new_domain_is_built_anew(rasa_format, domain) -> None:
    first = action_domain.for_action_server(domain)
    other = Domain.from_dict({**domain.as_dict(), "responses": {"utter_x": [{"text": "x"}]}})
    assert action_domain.for_action_server(other) is not first
    assert action_domain.for_action_server(other) == first  # responses are all that differ


@pytest.mark.parametrize(("form", "slots", "text"), TURNS)
async def test_validators_answer_the_same_without_the_responses(
    rasa_format, domain, repo: ShopRepository, form, slots, text
) -> None:
    tracker = _form_turn(domain, form, slots, text)
    action = RemoteAction(f"validate_{form}", ENDPOINT)
    whole = rasa_format(action, tracker, domain)
    trimmed = action._action_call_format(tracker, domain)
    (validator,) = [v for v in VALIDATORS if v(repo).name() == f"validate_{form}"]
    answers = []
    for body in (whole, trimmed):
        dispatcher = CollectingDispatcher()
        events = await validator(repo).run(
            dispatcher, Tracker.from_dict(body["tracker"]), body["domain"]
        )
        answers.append((events, dispatcher.messages))
    assert answers[0] == answers[1]
    assert answers[0][0], "the validator did something to compare"
