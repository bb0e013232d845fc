"""The Official Account channel of a running gateway, driven by wechatpy-built callbacks.

Rasa is down here (its URL points at a closed port): every message is answered at once by
the gateway's fail-open path (an apology and the queue notice with its cancel button),
which makes the bot "fast". ``async_gateway`` has a reply deadline of 0 seconds, so every
answer takes the customer-service API path through the fake WeChat server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.bot.fake_wechat import FakeWeChat
from tests.bot.gateway_harness import GatewayClient, GatewayProcess, stop_gateway
from tests.bot.wechat_client import (
    ACCOUNT,
    OfficialAccountCaller,
    conversation_of,
    event_xml,
    media_xml,
    new_msg_id,
    new_openid,
    query,
    start_wechat_gateway,
    stored_texts,
    text_xml,
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_wechat_gateway(tmp_path_factory.mktemp("wechat"), fake)
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture(scope="module")
def async_gateway(
    fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_wechat_gateway(
        tmp_path_factory.mktemp("wechat_async"), fake, WECHAT_REPLY_DEADLINE="0"
    )
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def plain(session: aiohttp.ClientSession, gateway: GatewayProcess) -> OfficialAccountCaller:
    return OfficialAccountCaller(session, gateway.base_url)


@pytest.fixture
def safe(session: aiohttp.ClientSession, gateway: GatewayProcess) -> OfficialAccountCaller:
    return OfficialAccountCaller(session, gateway.base_url, safe=True)


@pytest.fixture
def slow(session: aiohttp.ClientSession, async_gateway: GatewayProcess) -> OfficialAccountCaller:
    return OfficialAccountCaller(session, async_gateway.base_url, safe=True)


async def test_server_verification_needs_the_token(plain: OfficialAccountCaller) -> None:
    assert await plain.verify("echo-1234567") == (200, "echo-1234567")
    status, body = await plain.verify("echo-1234567", token="not-the-token")
    assert status == 403 and "echo-1234567" not in body


async def test_plaintext_round_trip(plain: OfficialAccountCaller, gateway: GatewayProcess) -> None:
    openid = new_openid()
    reply = await plain.say(openid, "我的快递到哪了")
    assert reply.status == 200 and reply.message is not None
    assert reply.message["ToUserName"] == openid and reply.message["FromUserName"] == ACCOUNT
    assert reply.message["MsgType"] == "text"
    assert "抱歉" in reply.content  # Rasa is down: the fail-open apology...
    assert "1. 取消人工服务" in reply.content and "回复数字" in reply.content  # ...and the queue
    assert stored_texts(gateway, "wechat", openid)[0] == ("customer", "我的快递到哪了")
    conversation = conversation_of(gateway, "wechat", openid)
    assert conversation is not None and conversation["state"] == "queued"
    assert conversation["customer_id"] is None  # unbound openid: anonymous


async def test_safe_mode_round_trip(safe: OfficialAccountCaller, gateway: GatewayProcess) -> None:
    openid = new_openid()
    reply = await safe.say(openid, "where is my parcel")
    assert reply.status == 200
    assert "<Encrypt>" in reply.body and "parcel" not in reply.body  # the reply is sealed
    assert reply.message is not None and reply.message["ToUserName"] == openid
    assert reply.content.startswith("Sorry")  # English question, English answer
    assert ("customer", "where is my parcel") in stored_texts(gateway, "wechat", openid)


async def test_bad_signatures_are_refused_and_nothing_is_stored(
    plain: OfficialAccountCaller, safe: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    openids = [new_openid() for _ in range(4)]
    secret_text = "我的手机13800138000"
    refused = [
        await plain.post(text_xml(openids[0], secret_text, new_msg_id()), token="wrong"),
        await safe.post(text_xml(openids[1], secret_text, new_msg_id()), token="wrong"),
        await safe.post(text_xml(openids[2], secret_text, new_msg_id()), msg_token="wrong"),
        await safe.post(text_xml(openids[3], secret_text, new_msg_id()), tamper=True),
    ]
    assert [r.status for r in refused] == [403, 403, 403, 403]
    assert all(secret_text not in r.body for r in refused)
    for openid in openids:
        assert conversation_of(gateway, "wechat", openid) is None
    log = gateway.log()
    assert "bad signature" in log
    assert not any(openid in log for openid in openids) and "13800138000" not in log


async def test_malformed_and_entity_bodies_are_refused(
    plain: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    openid = new_openid()
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        + text_xml(openid, "&a;", new_msg_id())
    )
    assert (await plain.post(bomb)).status == 400
    assert (await plain.post("<xml><oops></xml>")).status == 400
    assert conversation_of(gateway, "wechat", openid) is None


async def test_a_replayed_msg_id_is_stored_and_answered_once(
    plain: OfficialAccountCaller, gateway: GatewayProcess, fake: FakeWeChat
) -> None:
    openid, msg_id = new_openid(), new_msg_id()
    first = await plain.say(openid, "退货怎么退", msg_id)
    again = [await plain.say(openid, "退货怎么退", msg_id) for _ in range(3)]
    assert "抱歉" in first.content
    assert [r.body for r in again] == ["success"] * 3
    texts = stored_texts(gateway, "wechat", openid)
    assert [t for t in texts if t[0] == "customer"] == [("customer", "退货怎么退")]
    await asyncio.sleep(0.5)
    assert fake.pushes_to(openid) == []  # nothing went out a second way either


async def test_simultaneous_deliveries_reach_the_core_once(
    plain: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    openid, msg_id = new_openid(), new_msg_id()
    replies = await asyncio.gather(*(plain.say(openid, "积分有多少", msg_id) for _ in range(4)))
    answered = [r for r in replies if r.body != "success"]
    assert len(answered) == 1 and "抱歉" in answered[0].content
    customer = [t for t in stored_texts(gateway, "wechat", openid) if t[0] == "customer"]
    assert customer == [("customer", "积分有多少")]


async def test_follow_greets_and_pictures_get_a_polite_answer(
    plain: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    openid = new_openid()
    welcome = await plain.post(event_xml(openid, "subscribe"))
    assert "欢迎关注" in welcome.content and welcome.message is not None
    assert welcome.message["ToUserName"] == openid
    for kind in ("image", "voice", "location"):
        reply = await plain.post(media_xml(openid, kind, new_msg_id()))
        assert "只能读懂文字" in reply.content, kind
    assert (await plain.post(event_xml(openid, "unsubscribe"))).body == "success"
    assert conversation_of(gateway, "wechat", openid) is None  # nothing to store


async def test_a_number_selects_the_option_it_names(
    plain: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    openid = new_openid()
    queued = await plain.say(openid, "转人工")
    assert "1. 取消人工服务" in queued.content
    cancelled = await plain.say(openid, "1")
    assert "已取消" in cancelled.content
    conversation = conversation_of(gateway, "wechat", openid)
    assert conversation is not None and conversation["state"] == "bot"
    assert ("customer", "/handoff_cancel") in stored_texts(gateway, "wechat", openid)
    # Without options on offer, a number is just text (here: the fail-open path again).
    again = await plain.say(openid, "7")
    assert "抱歉" in again.content
    assert ("customer", "7") in stored_texts(gateway, "wechat", openid)


async def test_a_bound_openid_is_a_verified_customer(
    plain: OfficialAccountCaller, gateway: GatewayProcess
) -> None:
    await plain.say("o_demo_lina", "你好")
    bound = conversation_of(gateway, "wechat", "o_demo_lina")
    assert bound is not None and bound["customer_id"] == "C1002"
    stranger = new_openid()
    await plain.say(stranger, "你好")
    anonymous = conversation_of(gateway, "wechat", stranger)
    assert anonymous is not None and anonymous["customer_id"] is None


async def test_agent_replies_are_pushed_within_the_window_only(
    plain: OfficialAccountCaller,
    gateway: GatewayProcess,
    fake: FakeWeChat,
    session: aiohttp.ClientSession,
) -> None:
    openid = new_openid()
    await plain.say(openid, "转人工")
    conversation = conversation_of(gateway, "wechat", openid)
    assert conversation is not None
    inbox = GatewayClient(gateway, session)
    alice = await inbox.login("alice")
    _, queue = await inbox.inbox("GET", "/queue", alice)
    entry = next(e for e in queue["queue"] if e["conversation_id"] == conversation["id"])
    assert entry["channel"] == "wechat"
    status, _ = await inbox.inbox("POST", f"/conversations/{conversation['id']}/claim", alice)
    assert status == 200
    path = f"/conversations/{conversation['id']}/reply"
    status, body = await inbox.inbox("POST", path, alice, {"text": "您好，我是王芳，马上帮您查"})
    assert status == 200, body
    await fake.wait_for(lambda _s: len(fake.pushes_to(openid)) >= 2)
    pushed = fake.pushes_to(openid)
    assert "王芳 已接入" in pushed[0] and pushed[1] == "您好，我是王芳，马上帮您查"
    # The customer's last message is now three days old: WeChat would refuse the push.
    query(
        gateway,
        "UPDATE messages SET created_at = datetime('now', '-3 days') "
        "WHERE conversation_id = ? AND author = 'customer'",
        conversation["id"],
    )
    status, body = await inbox.inbox("POST", path, alice, {"text": "还在吗？"})
    assert status == 409 and body["error"]["code"] == "window_closed"
    assert "48" in body["error"]["message"]
    assert ("agent", "还在吗？") not in stored_texts(gateway, "wechat", openid)
    # The customer writes again (the bot stays silent: the agent holds it); replies work.
    assert (await plain.say(openid, "在的")).body == "success"
    status, _ = await inbox.inbox("POST", path, alice, {"text": "好的"})
    assert status == 200
    await fake.wait_for(lambda _s: "好的" in fake.pushes_to(openid))


async def test_a_slow_answer_is_pushed_through_the_api(
    slow: OfficialAccountCaller, async_gateway: GatewayProcess, fake: FakeWeChat
) -> None:
    openid, msg_id = new_openid(), new_msg_id()
    first = await slow.say(openid, "我的快递到哪了", msg_id)
    assert first.body == "success"  # the deadline passed: WeChat gets "success" at once
    snap = await fake.wait_for(lambda _s: bool(fake.pushes_to(openid)))
    pushed = fake.pushes_to(openid)
    assert len(pushed) == 1 and "抱歉" in pushed[0] and "1. 取消人工服务" in pushed[0]
    assert snap.pushes[-1]["msgtype"] == "text"
    # WeChat's retries of the same MsgId: "success", nothing stored or pushed again.
    for _ in range(2):
        assert (await slow.say(openid, "我的快递到哪了", msg_id)).body == "success"
    await asyncio.sleep(0.5)
    assert len(fake.pushes_to(openid)) == 1
    customer = [t for t in stored_texts(async_gateway, "wechat", openid) if t[0] == "customer"]
    assert len(customer) == 1


async def test_an_expired_token_is_renewed_and_the_reply_still_arrives(
    slow: OfficialAccountCaller, fake: FakeWeChat
) -> None:
    await slow.say(new_openid(), "你好")  # make sure a token is cached
    await fake.wait_for(lambda s: s.token_fetches >= 1)
    before = fake.snapshot()
    fake.expire_tokens()
    openid = new_openid()
    assert (await slow.say(openid, "你好")).body == "success"
    await fake.wait_for(lambda _s: bool(fake.pushes_to(openid)))
    after = fake.snapshot()
    assert 42001 in after.token_rejections[len(before.token_rejections) :]
    assert after.token_fetches > before.token_fetches
    assert len(fake.pushes_to(openid)) == 1


async def test_a_failed_push_is_retried_not_lost(
    slow: OfficialAccountCaller, fake: FakeWeChat
) -> None:
    for status in (500, 200):  # HTTP 500, then errcode -1 ("system busy")
        before = fake.snapshot().failures_served
        fake.fail_next(1, status=status)
        openid = new_openid()
        assert (await slow.say(openid, "你好")).body == "success"
        await fake.wait_for(lambda _s, o=openid: bool(fake.pushes_to(o)))
        assert fake.snapshot().failures_served == before + 1
        assert len(fake.pushes_to(openid)) == 1
