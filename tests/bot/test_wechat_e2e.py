"""A whole conversation over WeChat with the real trained bot and action server.

A bound follower (o_demo_zhangwei = C1001) asks where an order is, asks for a person, and
gets the agent's reply through the (fake) customer-service API. A second gateway with a
reply deadline of 0 seconds forces every real answer onto the asynchronous path, and a
retry of a message that is still being answered must not reach the bot a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.bot.fake_wechat import FakeWeChat
from tests.bot.gateway_harness import GatewayClient, GatewayProcess, stop_gateway
from tests.bot.wechat_client import (
    OfficialAccountCaller,
    conversation_of,
    new_msg_id,
    start_wechat_gateway,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


def _start(rasa_stack: Any, fake: FakeWeChat, workdir: Any, **extra: str) -> GatewayProcess:
    return start_wechat_gateway(
        workdir,
        fake,
        RASA_URL=rasa_stack.rasa_url,
        RASA_AUTH_TOKEN=rasa_stack.auth_token,
        DATABASE_URL=rasa_stack.database_url,
        RASA_TIMEOUT="30",
        **extra,
    )


@pytest.fixture(scope="module")
def wechat_gateway(
    rasa_stack: Any, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = _start(rasa_stack, fake, tmp_path_factory.mktemp("wechat_e2e"))
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture(scope="module")
def late_gateway(
    rasa_stack: Any, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = _start(
        rasa_stack, fake, tmp_path_factory.mktemp("wechat_e2e_late"), WECHAT_REPLY_DEADLINE="0"
    )
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_order_status_handoff_and_agent_reply_over_wechat(
    wechat_gateway: GatewayProcess, fake: FakeWeChat, session: aiohttp.ClientSession
) -> None:
    wechat = OfficialAccountCaller(session, wechat_gateway.base_url, safe=True)
    openid = "o_demo_zhangwei"

    status = await wechat.say(openid, "我的订单DD202611010001到哪了")
    assert status.status == 200, status.body
    assert "SF1234567890" in status.content or "顺丰" in status.content, status.body
    conversation = conversation_of(wechat_gateway, "wechat", openid)
    assert conversation is not None and conversation["customer_id"] == "C1001"

    person = await wechat.say(openid, "转人工")
    assert "排在第" in person.content and "1. 取消人工服务" in person.content, person.content

    inbox = GatewayClient(wechat_gateway, session)
    alice = await inbox.login("alice")
    _, queue = await inbox.inbox("GET", "/queue", alice)
    entry = next(e for e in queue["queue"] if e["conversation_id"] == conversation["id"])
    assert entry["channel"] == "wechat" and entry["reason"] == "customer_request"
    assert entry["customer_id"] == "C1001"
    _, detail = await inbox.inbox("GET", f"/conversations/{conversation['id']}", alice)
    assert detail["card"]["customer"]["name"] == "张伟"

    path = f"/conversations/{conversation['id']}"
    assert (await inbox.inbox("POST", f"{path}/claim", alice))[0] == 200
    status_code, _ = await inbox.inbox(
        "POST", f"{path}/reply", alice, {"text": "张先生您好，顺丰单号SF1234567890，明天送达。"}
    )
    assert status_code == 200
    await fake.wait_for(lambda _s: len(fake.pushes_to(openid)) >= 2)
    pushed = fake.pushes_to(openid)
    assert "王芳 已接入" in pushed[0]
    assert pushed[1] == "张先生您好，顺丰单号SF1234567890，明天送达。"

    # While the agent holds the conversation, the bot stays silent over WeChat too.
    assert (await wechat.say(openid, "好的谢谢")).body == "success"


async def test_a_late_real_answer_is_pushed_once_despite_retries(
    late_gateway: GatewayProcess,
    fake: FakeWeChat,
    session: aiohttp.ClientSession,
    rasa_stack: Any,
) -> None:
    wechat = OfficialAccountCaller(session, late_gateway.base_url)
    openid, msg_id = "o_demo_lina", new_msg_id()
    first = await wechat.say(openid, "我的积分有多少", msg_id)
    # WeChat retries while the first delivery is still with the bot.
    retries = await asyncio.gather(
        *(wechat.say(openid, "我的积分有多少", msg_id) for _ in range(2))
    )
    assert [first.body, *(r.body for r in retries)] == ["success"] * 3
    await fake.wait_for(lambda _s: bool(fake.pushes_to(openid)), timeout=60)
    await asyncio.sleep(1.0)
    pushed = fake.pushes_to(openid)
    assert len(pushed) == 1 and "积分" in pushed[0], pushed

    conversation = conversation_of(late_gateway, "wechat", openid)
    assert conversation is not None and conversation["customer_id"] == "C1002"
    url = (
        f"{rasa_stack.rasa_url}/conversations/{conversation['id']}/tracker"
        f"?token={rasa_stack.auth_token}"
    )
    async with session.get(url) as response:
        tracker = await response.json()
    assert len([e for e in tracker["events"] if e["event"] == "user"]) == 1
