"""Whole conversations against the real Rasa server and action server (REST channel).

The metadata is what the gateway sends: the verified customer id (or null) and channel.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import text

from actions.shop.db import build_engine
from tests.conftest import RasaStack

pytestmark = pytest.mark.slow


class Chat:
    """One customer's conversation with the bot."""

    def __init__(self, stack: RasaStack, customer_id: str | None = None) -> None:
        self.stack = stack
        self.customer_id = customer_id
        self.sender = f"test-{uuid.uuid4().hex[:12]}"

    def say(self, message: str) -> list[dict[str, Any]]:
        """Sends a message; returns the bot's replies."""
        response = requests.post(
            f"{self.stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": self.sender, "message": message,
                  "metadata": {"customer_id": self.customer_id, "channel": "rest"}},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def text(self, message: str) -> str:
        """Sends a message; returns the replies' texts joined."""
        return "\n".join(r.get("text", "") for r in self.say(message))


def handoffs(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Handoff signals among the replies."""
    return [r["custom"]["handoff"] for r in replies if "handoff" in (r.get("custom") or {})]


def test_identified_customer_tracks_a_parcel_in_chinese(rasa_stack: RasaStack) -> None:
    reply = Chat(rasa_stack, "C1001").text("我的订单DD202611010001到哪了")
    assert "顺丰速运" in reply and "SF1234567890" in reply
    assert "上海转运中心" in reply


def test_anonymous_customer_proves_the_order(rasa_stack: RasaStack) -> None:
    chat = Chat(rasa_stack)
    first = chat.text("订单DD202611010002现在是什么状态")
    assert "后4位" in first and "纯棉T恤" not in first
    second = chat.text("8000")
    assert "DD202611010002" in second and "纯棉T恤" in second


def test_three_wrong_phone_digits_end_in_a_handoff(rasa_stack: RasaStack) -> None:
    chat = Chat(rasa_stack)
    chat.say("查订单DD202611010002")
    assert "2" in chat.text("1111")
    chat.say("2222")
    replies = chat.say("3333")
    assert [h["reason"] for h in handoffs(replies)] == ["identity_failed"]
    assert "纯棉T恤" not in str(replies)


def test_other_customers_order_is_never_shown(rasa_stack: RasaStack) -> None:
    replies = Chat(rasa_stack, "C1001").say("查一下订单DD202611010005的状态")
    assert "DD202611010005" in str(replies)  # named back to the customer ...
    assert "双肩包" not in str(replies) and "JD0099887766" not in str(replies)  # ... not shown


def test_english_late_parcel_is_apologised_for_and_handed_off(rasa_stack: RasaStack) -> None:
    chat = Chat(rasa_stack, "C1003")
    reply = chat.text("where is my package DD202611010007")
    assert "YTO Express" in reply and "YT5566778899" in reply
    assert "sorry" in reply.lower()
    replies = chat.say("yes please")
    assert [h["reason"] for h in handoffs(replies)] == ["logistics_exception"]


def test_loyalty_in_both_languages(rasa_stack: RasaStack) -> None:
    assert "2350" in Chat(rasa_stack, "C1001").text("我还有多少积分")
    english = Chat(rasa_stack, "C1003").text("how many points do I have")
    assert "800" in english and "Silver" in english


def test_policy_answer_from_knowledge_base(rasa_stack: RasaStack) -> None:
    reply = Chat(rasa_stack).text("你们支持货到付款吗")
    assert "货到付款" in reply


def test_asking_for_a_person(rasa_stack: RasaStack) -> None:
    replies = Chat(rasa_stack, "C1001").say("转人工")
    assert [h["reason"] for h in handoffs(replies)] == ["customer_request"]


def test_return_request_in_english(rasa_stack: RasaStack) -> None:
    chat = Chat(rasa_stack, "C1001")
    chat.say("I want to return my order DD202611010002")
    chat.say('/inform{"return_reason":"no_reason"}')
    reply = chat.text("yes")
    assert "RT" in reply and "158.00" in reply


@pytest.mark.parametrize("message", ["", " ", "x" * 5000, "'; DROP TABLE orders; --",
                                     "DD12345678", "😀😀😀"])
def test_bad_input_gets_an_answer_and_breaks_nothing(rasa_stack: RasaStack, message: str) -> None:
    replies = Chat(rasa_stack, "C1001").say(message)
    assert isinstance(replies, list)
    engine = build_engine(rasa_stack.database_url)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from orders")).scalar() > 4000
    engine.dispose()


def test_cancel_after_confirmation_writes_the_cancellation(rasa_stack: RasaStack) -> None:
    chat = Chat(rasa_stack, "C1001")
    question = chat.text("帮我取消订单DD202611010003")
    assert "确定要取消" in question
    done = chat.text("确定")
    assert "已取消" in done
    engine = build_engine(rasa_stack.database_url)
    with engine.connect() as connection:
        status = connection.execute(
            text("select status from orders where id = 'DD202611010003'")
        ).scalar()
    engine.dispose()
    assert status == "cancelled"


def test_replies_carry_the_turns_intent_and_form(rasa_stack: RasaStack) -> None:
    """The REST channel's X-Rasa-Turn header (deploy/turn_channel.py) says what Rasa's
    tracker says after the turn: the gateway relies on it instead of a tracker read."""
    chat = Chat(rasa_stack, "C1001")
    seen = []
    for message in ("我要退货", "算了，我的积分还有多少"):
        response = requests.post(
            f"{rasa_stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": chat.sender, "message": message,
                  "metadata": {"customer_id": "C1001", "channel": "rest"}},
            timeout=60,
        )
        turn = json.loads(response.headers["X-Rasa-Turn"])
        tracker = requests.get(
            f"{rasa_stack.rasa_url}/conversations/{chat.sender}/tracker",
            params={"token": rasa_stack.auth_token}, timeout=30,
        ).json()
        assert turn["intent"] == tracker["latest_message"]["intent"]["name"]
        assert turn["active_loop"] == (tracker.get("active_loop") or {}).get("name")
        seen.append((turn["intent"], turn["active_loop"]))
    assert seen[0] == ("request_return", "return_form")
