"""The hot-path patches: action server responses validated exactly as Rasa does, and
requests to an endpoint reusing their connections (and surviving a server restart), the
language slot mapping run in process with the same result as on the action server."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime

import pytest
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AgentUttered,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionDetectLanguage
from deploy import rasa_patches
from deploy.rasa_patches import action_responses, connections, event_types, rule_lookup

VALID = {
    "events": [
        {"event": "slot", "name": "language", "value": "zh", "timestamp": None},
        {"event": "active_loop", "name": None},
    ],
    "responses": [{"text": "您好", "buttons": []}],
}
INVALID = [
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
]
ACTION = RemoteAction("action_x", None)


@pytest.fixture(scope="module")
def original():
    """Rasa's own validator, captured before the patches are installed; every patched
    attribute is given back afterwards."""
    if rasa_patches.installed():
        pytest.fail("the patch was installed before the test could capture Rasa's own method")
    before = {patch: patch.owner.__dict__.get(patch.name) for patch in rasa_patches.PATCHES}
    method = RemoteAction._validate_action_result
    rasa_patches.install()
    assert rasa_patches.installed()
    yield method
    rasa_patches.uninstall()
    assert {p: p.owner.__dict__.get(p.name) for p in rasa_patches.PATCHES} == before


def test_valid_response_passes_both(original) -> None:
    assert original(ACTION, VALID) is True
    assert ACTION._validate_action_result(VALID) is True


@pytest.mark.parametrize("response", INVALID)
def test_invalid_response_fails_both_with_the_same_error(original, response) -> None:
    with pytest.raises(ValidationError) as theirs:
        original(ACTION, response)
    with pytest.raises(ValidationError) as ours:
        ACTION._validate_action_result(response)
    assert ours.value.message.split(". Failed")[0] == theirs.value.message.split(". Failed")[0]
    assert "Failed to validate Action server response" in ours.value.message



async def _serve(
    port: int = 0, bodies: list[bytes] | None = None
) -> tuple[web.AppRunner, int, set[int]]:
    """A tiny JSON endpoint that records the client port (and body) of every request."""
    client_ports: set[int] = set()

    async def webhook(request: web.Request) -> web.Response:
        client_ports.add(request.transport.get_extra_info("peername")[1])
        if bodies is not None:
            bodies.append(await request.read())
        return web.json_response({"echo": (await request.json())["n"]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1], client_ports


def test_requests_reuse_one_connection_and_survive_a_restart(original) -> None:
    async def scenario() -> None:
        runner, port, first_ports = await _serve()
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-K": "v"})
        answers = [await endpoint.request(json={"n": n}) for n in range(5)]
        assert answers == [{"echo": n} for n in range(5)]
        assert len(first_ports) == 1  # Rasa alone opens five connections here

        await runner.cleanup()  # the action server restarts on the same port
        runner, _, second_ports = await _serve(port)
        await asyncio.sleep(0.1)
        assert await endpoint.request(json={"n": 9}) == {"echo": 9}
        assert len(second_ports) == 1
        await connections.close_sessions()
        await runner.cleanup()

    asyncio.run(scenario())


def test_request_bodies_are_compact_utf8_json_of_the_same_value(original) -> None:
    sent = {"n": 1, "tracker": {"text": "我的订单到哪了", "slots": {"language": "zh"}}}

    async def scenario() -> list[bytes]:
        bodies: list[bytes] = []
        runner, port, _ = await _serve(bodies=bodies)
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        assert await endpoint.request(json=sent) == {"echo": 1}
        await connections.close_sessions()
        await runner.cleanup()
        return bodies

    (body,) = asyncio.run(scenario())
    assert json.loads(body.decode("utf-8")) == sent
    assert "我的订单到哪了".encode() in body and b", " not in body
    assert len(body) < len(json.dumps(sent).encode())


@pytest.mark.parametrize(
    ("text", "metadata", "slot"),
    [
        ("我的订单到哪了", {}, "en"),
        ("where is my order", {}, "zh"),
        ("where is my order", {}, "en"),  # no change: no event
        ("DD202611010001", {"language": "en"}, "zh"),  # the channel's hint decides
        ("/affirm", {"language": "fr"}, "zh"),  # an unsupported hint is ignored
        ("8000", None, "zh"),
    ],
)
def test_language_mapping_in_process_equals_the_action_server(original, text, metadata, slot):
    tracker = DialogueStateTracker.from_events(
        "c1", [SlotSet("language", slot), UserUttered(text, metadata=metadata)]
    )
    ours = asyncio.run(
        ActionExtractSlots(None)._run_custom_action(
            "action_detect_language", None, None, tracker, None
        )
    )
    sdk_tracker = Tracker.from_dict(tracker.current_state())
    theirs = asyncio.run(ActionDetectLanguage().run(CollectingDispatcher(), sdk_tracker, {}))
    assert [(e.key, e.value) for e in ours] == [(e["name"], e["value"]) for e in theirs]
    if text == "我的订单到哪了":
        assert [(e.key, e.value) for e in ours] == [("language", "zh")]


def _event_samples() -> list[dict]:
    """Every kind of event Rasa serialises, as action servers send them, and broken ones."""
    events = [
        UserUttered("你好", {"name": "greet", "confidence": 0.9}, [], metadata={"a": 1}),
        ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0),
        SlotSet("language", "zh"),
        SlotSet("verified_orders", ["DD1"]),
        BotUttered("您好", {"buttons": [{"title": "是", "payload": "/affirm"}]}),
        ActiveLoop("order_form"),
        ActiveLoop(None),
        FollowupAction("action_listen"),
        SessionStarted(),
        Restarted(),
        AllSlotsReset(),
        ReminderScheduled("EXTERNAL_x", datetime.now(), name="r"),
        ReminderCancelled(name="r"),
        ActionExecutionRejected("validate_order_form"),
        LoopInterrupted(True),
        ConversationPaused(),
        ConversationResumed(),
        UserUtteranceReverted(),
        ActionReverted(),
        EntitiesAdded([{"entity": "order_id", "value": "DD1", "start": 0, "end": 3}]),
        AgentUttered("hi"),
    ]
    samples = [e.as_dict() for e in events]
    broken = []
    for sample in samples:
        for key in sample:
            if key != "event":
                broken.append({k: v for k, v in sample.items() if k != key})  # one key gone
                broken.append({**sample, key: {"not": "expected"}})  # a wrong type
    return samples + broken + [{"event": "no_such"}, {"event": 7}, {}, "text", None]


def test_eventwise_check_agrees_with_the_full_schema(original) -> None:
    fast, full = action_responses._eventwise_check(), action_responses._response_validator()
    assert fast is not None  # Rasa 3.6's schema has the shape the check relies on
    verdicts = []
    for event in _event_samples():
        response = {"events": [{"event": "slot", "name": "x", "value": 1}, event]}
        verdicts.append(full.is_valid(response))
        assert fast.is_valid(response) == verdicts[-1], event
    assert True in verdicts and False in verdicts
    for response in [VALID, *INVALID, {}, {"events": []}, {"responses": []}]:
        assert fast.is_valid(response) == full.is_valid(response), response


def test_event_classes_by_name_are_rasas(original) -> None:
    rasa_resolve = event_types._original_resolve_by_type
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is rasa_resolve(name), name
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards compatibility
    assert Event.resolve_by_type("no_such", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such")


def test_rule_keys_parse_as_rasa_parses_them(original) -> None:
    key = '[{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]'
    parsed = RulePolicy._rule_key_to_state(key)
    assert parsed == rule_lookup._original_rule_key_to_state(key)
    assert RulePolicy._rule_key_to_state(key) is parsed  # parsed once


def _random_state(rng: random.Random, rule: bool) -> dict:
    """A dialogue state (or a rule's state, which may omit parts or say "not set")."""
    state: dict = {}
    if rng.random() < 0.9:
        state["prev_action"] = {"action_name": rng.choice(["action_listen", "utter_a", "f"])}
    if rng.random() < 0.6:
        state["user"] = {"intent": rng.choice(["greet", "ask", "deny"])}
    if rng.random() < 0.4:
        state["active_loop"] = {"name": rng.choice(["f", "should_not_be_set"] if rule else ["f"])}
    if rng.random() < 0.4:
        state["slots"] = {"s": rng.choice([(1.0,), (0.0,), "should_not_be_set"])}
    return state


def test_rule_search_finds_the_same_rules_as_rasa(original) -> None:
    rng = random.Random(7)
    policy = RulePolicy.__new__(RulePolicy)  # the lookup needs no trained state
    for _ in range(400):
        lookup = {
            json.dumps([_random_state(rng, True) for _ in range(rng.randint(1, 5))]): "a"
            for _ in range(rng.randint(1, 30))
        }
        history = [_random_state(rng, False) for _ in range(rng.randint(1, 25))]
        ours = rule_lookup._get_possible_keys(policy, lookup, history)
        theirs = rule_lookup._original_get_possible_keys(policy, lookup, history)
        assert ours == theirs


def test_remembered_rules_are_rasas_for_every_history(original) -> None:
    """Answers are remembered per tail of states: histories that differ only before the
    longest rule share one, longer ones do not, and a lookup that lost a rule (as during
    training) is searched afresh."""
    rng = random.Random(11)
    policy = RulePolicy.__new__(RulePolicy)
    for _ in range(200):
        lookup = {
            json.dumps([_random_state(rng, True) for _ in range(rng.randint(1, 5))]): "a"
            for _ in range(rng.randint(1, 30))
        }
        tail = [_random_state(rng, False) for _ in range(rng.randint(0, 6))]
        for _ in range(4):
            history = [_random_state(rng, False) for _ in range(rng.randint(0, 6))] + tail
            if not history:
                continue
            for _ in range(2):  # the second search is answered from memory
                theirs = rule_lookup._original_get_possible_keys(policy, lookup, history)
                assert rule_lookup._get_possible_keys(policy, lookup, history) == theirs
        lookup.pop(next(iter(lookup)))
        theirs = rule_lookup._original_get_possible_keys(policy, lookup, tail or history)
        assert rule_lookup._get_possible_keys(policy, lookup, tail or history) == theirs


def test_slots_copy_as_copy_copy_made_them(original) -> None:
    import copy as copy_module

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.slots import Slot

    from deploy.rasa_patches import slot_copy

    protocol = ("__slots__", "__getstate__", "__setstate__", "__reduce__", "__reduce_ex__",
                "__copy__")
    for cls in [Slot, *all_subclasses(Slot)]:  # what the fast copy relies on
        for klass in cls.__mro__[:-1]:  # object's own reduce is the generic one
            own = {name: vars(klass)[name] for name in protocol if name in vars(klass)}
            if klass is Slot:
                own.pop("__copy__", None)  # the patch itself
            assert own in ({}, {"__slots__": ()}), (cls, klass, own)  # abc.ABC: no slots
    assert Slot.__copy__ is slot_copy.__copy__
    domain = Domain.load("domain")
    assert len(domain.slots) > 10
    for slot in domain.slots:
        slot.value = ["DD1"] if slot.type_name == "list" else slot.value
        ours = copy_module.copy(slot)
        theirs = copy_module._reconstruct(slot, None, *slot.__reduce_ex__(4))
        assert type(ours) is type(theirs) is type(slot) and ours is not slot
        assert vars(ours) == vars(theirs) == vars(slot) and vars(ours) is not vars(slot)
        assert ours.value is slot.value  # shallow, as copy.copy
