"""The gateway in front of the real trained model and the real action server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.identity import issue_customer_token
from tests.bot.gateway_harness import TOKEN_SECRET, GatewayClient, GatewayProcess

pytestmark = pytest.mark.slow


def sender() -> str:
    return "r_" + uuid.uuid4().hex


@pytest.fixture
async def rclient(rasa_gateway: GatewayProcess) -> AsyncIterator[GatewayClient]:
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(rasa_gateway, session)


def texts(body: dict[str, Any]) -> str:
    return " ".join(r["text"] for r in body["replies"])


async def test_the_bot_answers_through_the_gateway(rclient: GatewayClient) -> None:
    status, body = await rclient.send(sender(), "你好")
    assert status == 200, body
    assert body["state"] == "bot"
    assert body["replies"] and texts(body).strip()


async def test_asking_for_a_person_queues_the_conversation(
    rclient: GatewayClient, rasa_stack: Any
) -> None:
    token = issue_customer_token("C1001", TOKEN_SECRET)
    status, body = await rclient.send(sender(), "人工客服", customer_token=token)
    assert status == 200 and body["state"] == "queued", body
    assert body["queue"]["position"] >= 1
    conversation_id = str(body["conversation_id"])
    alice = await rclient.login("alice")
    _, queue = await rclient.inbox("GET", "/queue", alice)
    entry = next(e for e in queue["queue"] if e["conversation_id"] == conversation_id)
    assert entry["reason"] == "customer_request"
    _, detail = await rclient.inbox("GET", f"/conversations/{conversation_id}", alice)
    card = detail["card"]
    assert card["intent"] == "human_agent"
    assert card["tracker_available"] is True
    assert card["customer"]["id"] == "C1001" and card["customer"]["name"] == "张伟"
    assert any(m["author"] == "bot" for m in detail["messages"])  # the bot's part is kept


async def test_verified_customer_sees_own_order_anonymous_does_not(
    rclient: GatewayClient,
) -> None:
    question = "我的订单DD202611010001到哪了"
    token = issue_customer_token("C1001", TOKEN_SECRET)
    _, mine = await rclient.send(sender(), question, customer_token=token)
    assert "SF1234567890" in texts(mine) or "顺丰" in texts(mine), mine
    forged = issue_customer_token("C1001", "not-the-shop-secret-but-long-enough-1234")
    _, stranger = await rclient.send(sender(), question, customer_token=forged)
    assert "SF1234567890" not in texts(stranger)
    assert "上海转运中心" not in texts(stranger)


async def test_duplicate_delivery_reaches_rasa_once(
    rclient: GatewayClient, rasa_stack: Any
) -> None:
    who = sender()
    first = await rclient.send(who, "积分有多少", client_message_id="once")
    again = await rclient.send(who, "积分有多少", client_message_id="once")
    assert first[1]["replies"] == again[1]["replies"]
    url = (
        f"{rasa_stack.rasa_url}/conversations/{first[1]['conversation_id']}/tracker"
        f"?token={rasa_stack.auth_token}"
    )
    async with rclient.session.get(url) as response:
        tracker = await response.json()
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(user_events) == 1


async def test_websocket_round_trip_with_the_bot(rclient: GatewayClient) -> None:
    async with rclient.session.ws_connect(f"{rclient.gateway.ws_url}/ws") as ws:
        await ws.send_json({"type": "hello", "sender": sender(), "language": "zh"})
        await ws.send_json({"type": "message", "text": "你好", "client_message_id": "c1"})
        frames: list[dict[str, Any]] = []
        while not any(f.get("type") == "ack" for f in frames):
            message = await asyncio.wait_for(ws.receive(), 60)
            frames.append(json.loads(message.data))
    bot = [
        f["message"] for f in frames if f["type"] == "message" and f["message"]["author"] == "bot"
    ]
    assert bot and bot[0]["text"]
    assert any(f["type"] == "typing" and f["on"] for f in frames)
