"""deploy/wire_json.py: the same parsed value as the standard library, compact UTF-8 text,
and the standard library's result or error where orjson refuses."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from deploy import wire_json


def _tracker_state() -> dict:
    """A tracker as Rasa sends it to the action server: Chinese, floats, nulls, lists."""
    ranking = [{"name": f"intent_{i}", "confidence": 1 / (i + 3)} for i in range(10)]
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("verified_orders", []),
        SlotSet("verify_attempts", 0.0),
        ActionExecuted("action_listen"),
        UserUttered(
            "我的订单DD202611010001到哪了？",
            {"name": "order_status", "confidence": 0.987654321},
            [{"entity": "order_id", "value": "DD202611010001", "start": 4, "end": 18}],
            parse_data={"intent_ranking": ranking, "text_tokens": [[0, 2], [2, 4]]},
            metadata={"customer_id": "C1001", "channel": "web", "language": None},
        ),
        SlotSet("order_id", "DD202611010001"),
        ActiveLoop("order_form"),
        BotUttered("已发货 \"顺丰\" \\ 🚚", {"buttons": [{"title": "是", "payload": "/affirm"}]}),
    ]
    tracker = DialogueStateTracker.from_events("c-json", events)
    return tracker.current_state(EventVerbosity.ALL)


VALUES = [
    _tracker_state(),
    {"n": 1, "keys": {1: "int", 2.5: "float", False: "bool", None: "none"}},
    [0, -1, 2**63 - 1, -(2**63), 1e-300, 1.7976931348623157e308, 0.1 + 0.2, -0.0],
    {"empty": [{}, [], ""], "control": "\u0000\u001f\u2028\t\n", "tuple": (1, "二")},
]


@pytest.mark.parametrize("value", VALUES)
def test_same_parsed_value_as_the_standard_library(value) -> None:
    text = wire_json.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert wire_json.loads(text) == json.loads(json.dumps(value))
    assert wire_json.loads(text.encode()) == wire_json.loads(text)


def test_text_is_compact_utf8() -> None:
    state = _tracker_state()
    text = wire_json.dumps(state)
    assert "我的订单" in text and "\\u" not in text.replace("\\u0000", "")
    assert ", " not in text.replace("DD202611010001到哪了", "") and '": ' not in text
    assert len(text.encode()) < len(json.dumps(state).encode())


def test_what_orjson_refuses_goes_to_the_standard_library() -> None:
    big = {"id": 2**70}
    assert json.loads(wire_json.dumps(big)) == big
    with pytest.raises(TypeError):  # the error json.dumps gives
        wire_json.dumps({"at": datetime(2026, 11, 26)})
    with pytest.raises(TypeError):
        json.dumps({"at": datetime(2026, 11, 26)})


def test_reads_rows_that_rasas_own_store_wrote() -> None:
    written = json.dumps({"event": "slot", "name": "x", "value": float("nan"), "t": "订单"})
    assert math.isnan(wire_json.loads(written)["value"])
    assert wire_json.loads(written)["t"] == "订单"
    with pytest.raises(ValueError):
        wire_json.loads("{not json")


def test_non_finite_numbers_are_written_as_null() -> None:
    # JSON has no NaN; the standard library's `NaN` is refused by strict parsers.
    assert json.loads(wire_json.dumps([float("nan"), float("inf"), 1.5])) == [None, None, 1.5]
