"""WeCom customer service (微信客服) on a running gateway, with wechatpy-built callbacks.

The callback only announces news; the gateway reads messages from the fake WeCom API with
``sync_msg`` after a cursor that it keeps in its database, and answers with ``send_msg``.
Rasa is down, so every first message is answered by the fail-open path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.bot.fake_wechat import FakeWeChat
from tests.bot.gateway_harness import GatewayClient, GatewayProcess, restart_gateway, stop_gateway
from tests.bot.wechat_client import (
    KFID,
    WeComCaller,
    conversation_of,
    query,
    start_wechat_gateway,
    stored_texts,
)

HANDOFF_KFID = "wkTESTKFACCOUNT02"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_wechat_gateway(tmp_path_factory.mktemp("wecom"), fake)
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture(scope="module")
def handoff_gateway(
    fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_wechat_gateway(
        tmp_path_factory.mktemp("wecom_handoff"),
        fake,
        WECOM_HANDOFF="wecom",
        WECOM_SERVICER_USERID="zhangsan",
    )
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def customer() -> str:
    return "wm" + uuid.uuid4().hex[:20]


def kf_text(fake: FakeWeChat, external: str, content: str, kfid: str = KFID) -> str:
    msgid = "msg" + uuid.uuid4().hex
    fake.add_kf_message(
        msgid=msgid,
        open_kfid=kfid,
        external_userid=external,
        origin=3,
        msgtype="text",
        text={"content": content},
    )
    return msgid


def cursor_of(gateway: GatewayProcess, kfid: str = KFID) -> Any:
    rows = query(gateway, "SELECT cursor FROM channel_cursors WHERE name = ?", f"wecom:{kfid}")
    return rows[0][0] if rows else None


async def wait_for_cursor(gateway: GatewayProcess, expected: str, timeout: float = 10) -> None:
    """The cursor is saved after a page is handled, which may be just after the answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    while cursor_of(gateway) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"cursor is {cursor_of(gateway)!r}, not {expected!r}")
        await asyncio.sleep(0.05)


async def test_url_verification_and_bad_signatures(
    gateway: GatewayProcess, session: aiohttp.ClientSession, fake: FakeWeChat
) -> None:
    caller = WeComCaller(session, gateway.base_url)
    assert await caller.verify("1616140317555161061") == (200, "1616140317555161061")
    status, body = await caller.verify("1616140317555161061", token="wrong")
    assert status == 403 and "1616140317555161061" not in body
    before = len(fake.snapshot().sync_requests)
    assert (await caller.notify(token="wrong"))[0] == 403
    assert len(fake.snapshot().sync_requests) == before  # nothing was read


async def test_messages_are_read_answered_and_the_cursor_survives_a_restart(
    gateway: GatewayProcess, session: aiohttp.ClientSession, fake: FakeWeChat
) -> None:
    caller = WeComCaller(session, gateway.base_url)
    first, second = customer(), customer()
    fake.set_page_size(1)  # two pages: has_more is followed
    kf_text(fake, first, "我的快递到哪了")
    kf_text(fake, second, "where is my parcel")
    assert await caller.notify() == (200, "success")
    await fake.wait_for(lambda _s: bool(fake.kf_texts_to(first) and fake.kf_texts_to(second)))
    assert "抱歉" in fake.kf_texts_to(first)[0] and "1. 取消人工服务" in fake.kf_texts_to(first)[0]
    assert fake.kf_texts_to(second)[0].startswith("Sorry")
    request = fake.snapshot().sync_requests[0]
    assert request["open_kfid"] == KFID and request["token"].startswith("ENC")
    assert "cursor" not in request  # the very first read starts at the beginning
    assert stored_texts(gateway, "wecom", f"{KFID}:{first}")[0] == ("customer", "我的快递到哪了")
    await wait_for_cursor(gateway, "c2")

    # Stop, let a message arrive meanwhile, start again: it reads on from the saved cursor.
    fake.set_page_size(1000)
    third = customer()
    kf_text(fake, third, "积分有多少")
    reads = len(fake.snapshot().sync_requests)
    restart_gateway(gateway)
    await fake.wait_for(lambda _s: bool(fake.kf_texts_to(third)))
    assert fake.snapshot().sync_requests[reads]["cursor"] == "c2"
    await wait_for_cursor(gateway, "c3")
    assert len(fake.kf_texts_to(first)) == 1  # nothing answered twice
    assert [t for t in stored_texts(gateway, "wecom", f"{KFID}:{first}") if t[0] == "customer"] == [
        ("customer", "我的快递到哪了")
    ]


async def test_options_pictures_and_welcome(
    gateway: GatewayProcess, session: aiohttp.ClientSession, fake: FakeWeChat
) -> None:
    caller = WeComCaller(session, gateway.base_url)
    who = customer()
    kf_text(fake, who, "转人工")
    await caller.notify()
    await fake.wait_for(lambda _s: len(fake.kf_texts_to(who)) == 1)
    kf_text(fake, who, "1")
    fake.add_kf_message(
        msgid="msg" + uuid.uuid4().hex,
        open_kfid=KFID,
        external_userid=who,
        origin=3,
        msgtype="image",
        image={"media_id": "m1"},
    )
    fake.add_kf_message(
        msgid="msg" + uuid.uuid4().hex,
        open_kfid=KFID,
        origin=4,
        msgtype="event",
        event={
            "event_type": "enter_session",
            "open_kfid": KFID,
            "external_userid": customer(),
            "welcome_code": "WELCOME-1",
        },
    )
    await caller.notify()
    await fake.wait_for(lambda _s: len(fake.kf_texts_to(who)) == 3)
    texts = fake.kf_texts_to(who)
    assert "已取消" in texts[1] and "只能读懂文字" in texts[2]
    conversation = conversation_of(gateway, "wecom", f"{KFID}:{who}")
    assert conversation is not None and conversation["state"] == "bot"
    snap = await fake.wait_for(lambda s: bool(s.kf_event_sends))
    assert snap.kf_event_sends[0]["code"] == "WELCOME-1"
    assert "欢迎" in snap.kf_event_sends[0]["text"]["content"]


async def test_inbox_agent_replies_go_out_with_send_msg(
    gateway: GatewayProcess, session: aiohttp.ClientSession, fake: FakeWeChat
) -> None:
    caller = WeComCaller(session, gateway.base_url)
    who = customer()
    kf_text(fake, who, "人工客服")
    await caller.notify()
    await fake.wait_for(lambda _s: bool(fake.kf_texts_to(who)))
    conversation = conversation_of(gateway, "wecom", f"{KFID}:{who}")
    assert conversation is not None
    inbox = GatewayClient(gateway, session)
    bob = await inbox.login("bob")
    assert (await inbox.inbox("POST", f"/conversations/{conversation['id']}/claim", bob))[0] == 200
    status, _ = await inbox.inbox(
        "POST", f"/conversations/{conversation['id']}/reply", bob, {"text": "Hi, Bob here."}
    )
    assert status == 200
    await fake.wait_for(lambda _s: "Hi, Bob here." in fake.kf_texts_to(who))
    sent = next(s for s in fake.snapshot().kf_sends if s["text"]["content"] == "Hi, Bob here.")
    assert sent["open_kfid"] == KFID and sent["msgtype"] == "text"
    assert fake.snapshot().transfers == []  # inbox mode: the session stays with the API


async def test_wecom_mode_moves_the_session_to_the_receptionist(
    handoff_gateway: GatewayProcess, session: aiohttp.ClientSession, fake: FakeWeChat
) -> None:
    caller = WeComCaller(session, handoff_gateway.base_url)
    who = customer()
    kf_text(fake, who, "转人工", kfid=HANDOFF_KFID)
    await caller.notify(open_kfid=HANDOFF_KFID)
    await fake.wait_for(lambda _s: bool(fake.kf_texts_to(who)))
    conversation = conversation_of(handoff_gateway, "wecom", f"{HANDOFF_KFID}:{who}")
    assert conversation is not None and conversation["state"] == "queued"
    inbox = GatewayClient(handoff_gateway, session)
    alice = await inbox.login("alice")
    path = f"/conversations/{conversation['id']}"
    assert (await inbox.inbox("POST", f"{path}/claim", alice))[0] == 200
    snap = await fake.wait_for(lambda s: any(t["external_userid"] == who for t in s.transfers))
    transfer = next(t for t in snap.transfers if t["external_userid"] == who)
    assert transfer == {
        "open_kfid": HANDOFF_KFID,
        "external_userid": who,
        "service_state": 3,
        "servicer_userid": "zhangsan",
    }
    assert "王芳 已接入" in fake.kf_texts_to(who)[-1]  # told before the session moved
    status, body = await inbox.inbox("POST", f"{path}/reply", alice, {"text": "hello"})
    assert status == 409 and body["error"]["code"] == "channel_cannot_send"
