"""Contacts and ratings with the real trained model and action server (slow)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.identity import issue_customer_token
from tests.bot.gateway_harness import TOKEN_SECRET, GatewayClient, GatewayProcess
from tests.bot.metrics_support import (
    contact_id_of,
    contacts_of,
    eventually,
    prompt_of,
    sender,
    supervisor_get,
    texts,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def rclient(rasa_gateway: GatewayProcess) -> AsyncIterator[GatewayClient]:
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(rasa_gateway, session)


async def test_a_served_order_question_then_thanks_is_resolved_by_the_bot_and_rated(
    rclient: GatewayClient, rasa_gateway: GatewayProcess
) -> None:
    who = sender()
    token = issue_customer_token("C1001", TOKEN_SECRET)
    _, body = await rclient.send(who, "我的订单DD202611010001到哪了", customer_token=token)
    assert body["state"] == "bot" and texts(body).strip()
    conversation_id = str(body["conversation_id"])
    _, body = await rclient.send(who, "谢谢", customer_token=token)
    prompt = await prompt_of(rclient, who)
    contact_id = contact_id_of(prompt)
    (contact,) = contacts_of(rasa_gateway, conversation_id)
    assert contact["outcome"] == "bot" and contact["resolution"] == "thanks"
    assert contact["topic"] == "order_tracking"
    assert contact["customer_key"] == "C1001"
    assert contact["intents"].split()[-1] == "thanks"
    _, body = await rclient.send(who, f"/rate_5:{contact_id}", customer_token=token)
    assert "感谢您的评分" in texts(body)
    _, body = await rclient.send(who, "很快就查到了", customer_token=token)
    assert "感谢您的评价" in texts(body)
    (contact,) = contacts_of(rasa_gateway, conversation_id)
    assert (contact["rating"], contact["comment"]) == (5, "很快就查到了")

    sue = await rclient.login("sue")

    async def counted() -> dict | None:
        status, report = await supervisor_get(rclient, "/api/v1/metrics?topic=order_tracking", sue)
        assert status == 200
        return report if report["counts"].get("ratings_good", 0) >= 1 else None

    report = await eventually(counted)
    assert report["contacts"] >= 1 and report["csat"] is not None


async def test_asking_for_a_person_then_the_agent_resolves_and_is_rated(
    rclient: GatewayClient, rasa_gateway: GatewayProcess
) -> None:
    who = sender()
    token = issue_customer_token("C1002", TOKEN_SECRET)
    _, body = await rclient.send(who, "人工客服", customer_token=token)
    assert body["state"] == "queued"
    conversation_id = str(body["conversation_id"])
    alice = await rclient.login("alice")
    await rclient.inbox("POST", f"/conversations/{conversation_id}/claim", alice)
    await rclient.inbox("POST", f"/conversations/{conversation_id}/reply", alice, {"text": "您好"})
    await rclient.inbox("POST", f"/conversations/{conversation_id}/resolve", alice)
    prompt = await prompt_of(rclient, who)
    _, body = await rclient.send(who, "4分")
    assert "感谢您的评分" in texts(body)
    (contact,) = await eventually(
        lambda: (c := contacts_of(rasa_gateway, conversation_id)) and c[0]["rating"] and c
    )
    assert contact["id"] == contact_id_of(prompt)
    assert (contact["outcome"], contact["handoff_reason"]) == ("agent", "customer_request")
    assert contact["topic"] == "human_agent" and contact["rating"] == 4
