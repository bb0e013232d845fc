"""The running gateway with Rasa down: HTTP API, WebSocket, inbox API and its auth.

Rasa's URL points at a closed port, which is a real situation (Rasa crashed or is
restarting): every message must be stored and fail open to the queue.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.identity import issue_customer_token
from bot.settings import Settings
from tests.bot.gateway_harness import PASSWORD, TOKEN_SECRET, GatewayClient

pytestmark = pytest.mark.usefixtures("offline_gateway")


def sender() -> str:
    return "t_" + uuid.uuid4().hex


async def ws_frames(ws: aiohttp.ClientWebSocketResponse, until: Any, timeout: float = 10):
    """Collect frames until ``until(frames)`` is true."""
    frames: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while not until(frames):
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {frames}")
        message = await ws.receive(timeout=remaining)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {message}")
        frames.append(json.loads(message.data))
    return frames


async def test_fail_open_when_rasa_is_down(client: GatewayClient) -> None:
    status, body = await client.send(sender(), "我的快递到哪了", client_message_id="a1")
    assert status == 200
    assert body["state"] == "queued"
    texts = [r["text"] for r in body["replies"]]
    assert "抱歉" in texts[0]
    assert "第 1 位" in texts[1] or "排在第" in texts[1]
    assert body["queue"]["position"] >= 1
    assert "ClientConnectorError" in client.gateway.log()  # logged, never shown


async def test_fail_open_apologises_in_english(client: GatewayClient) -> None:
    status, body = await client.send(sender(), "where is my parcel?", language="en")
    assert status == 200 and body["state"] == "queued"
    assert body["replies"][0]["text"].startswith("Sorry")


async def test_still_queued_when_rasa_stays_down(client: GatewayClient) -> None:
    who = sender()
    await client.send(who, "人工")
    status, body = await client.send(who, "还要等多久")
    assert status == 200 and body["state"] == "queued"
    assert "暂时无法回答" in body["replies"][0]["text"]
    assert (
        len([e for e in (await client.history(who))["messages"] if e["author"] == "customer"]) == 2
    )


async def test_customer_can_cancel_the_request(client: GatewayClient) -> None:
    who = sender()
    _, body = await client.send(who, "人工")
    cancel = body["replies"][-1]["buttons"][0]
    assert cancel["payload"] == "/handoff_cancel"
    _, body = await client.send(who, cancel["payload"])
    assert body["state"] == "bot"
    assert "取消" in body["replies"][0]["text"]


async def test_duplicate_client_message_id_is_stored_once(client: GatewayClient) -> None:
    who = sender()
    first = await client.send(who, "退货怎么退", client_message_id="dup-1")
    again = await client.send(who, "退货怎么退", client_message_id="dup-1")
    assert first[0] == again[0] == 200
    assert again[1]["message_id"] == first[1]["message_id"]
    assert again[1]["replies"] == first[1]["replies"]
    history = await client.history(who)
    customer = [m for m in history["messages"] if m["author"] == "customer"]
    assert len(customer) == 1


async def test_huge_message_is_refused_and_nothing_is_stored(client: GatewayClient) -> None:
    who = sender()
    status, body = await client.send(who, "长" * 2001, client_message_id="big")
    assert status == 413
    assert body["error"]["code"] == "message_too_large"
    assert "2000" in body["error"]["message"]
    assert "长长长" not in json.dumps(body, ensure_ascii=False)
    history = await client.history(who)
    assert history["messages"] == [] and history["conversation_id"] is None
    ok, _ = await client.send(who, "长" * 2000)
    assert ok == 200  # exactly at the limit is fine


async def test_oversized_body_gets_json_413(client: GatewayClient) -> None:
    payload = {"channel": "web", "sender": sender(), "text": "x" * 400_000}
    async with client.session.post(
        f"{client.gateway.base_url}/api/v1/messages", json=payload
    ) as response:
        assert response.status == 413
        body = await response.json()
        assert body["error"]["code"] == "payload_too_large"


async def test_errors_never_echo_the_request(client: GatewayClient) -> None:
    marker = "SECRET-13800138000"
    async with client.session.post(
        f"{client.gateway.base_url}/api/v1/messages",
        data=f'{{"sender": "{marker}", broken',
        headers={"Content-Type": "application/json"},
    ) as response:
        text = await response.text()
        assert response.status == 400
        assert marker not in text
        assert json.loads(text)["error"]["request_id"] == response.headers["X-Request-ID"]
        request_id = response.headers["X-Request-ID"]
    assert f"[{request_id}] bot.access: POST /api/v1/messages 400" in client.gateway.log()
    status, body = await client.send("bad sender with spaces", "hi")
    assert status == 400 and "bad sender" not in json.dumps(body)
    assert marker not in client.gateway.log()


async def _customer_of(client: GatewayClient, conversation_id: str) -> Any:
    token = await client.login("sue")
    status, body = await client.inbox("GET", f"/conversations/{conversation_id}", token)
    assert status == 200, body
    return body["card"]["customer"]


async def test_valid_token_identifies_the_customer(client: GatewayClient) -> None:
    token = issue_customer_token("C1001", TOKEN_SECRET)
    _, body = await client.send(sender(), "查订单", customer_token=token)
    customer = await _customer_of(client, str(body["conversation_id"]))
    assert customer["id"] == "C1001"
    assert customer["identity"] == {"verified": True, "method": "token"}
    assert customer["name"] == "张伟"


@pytest.mark.parametrize(
    "token",
    [
        "garbage.token.value",
        issue_customer_token("C1001", "forged-by-someone-who-does-not-know-it"),
        issue_customer_token("C1001", TOKEN_SECRET, ttl=timedelta(seconds=-10)),
    ],
    ids=["bad", "forged", "expired"],
)
async def test_bad_forged_or_expired_token_is_anonymous(client: GatewayClient, token: str) -> None:
    status, body = await client.send(sender(), "查订单", customer_token=token)
    assert status == 200  # never an error page
    customer = await _customer_of(client, str(body["conversation_id"]))
    assert customer["id"] is None
    assert customer["identity"]["verified"] is False


async def test_websocket_round_trip_resume_and_dedup(client: GatewayClient) -> None:
    who = sender()
    url = f"{client.gateway.ws_url}/ws"
    async with client.session.ws_connect(url) as ws:
        await ws.send_json({"type": "hello", "sender": who, "language": "zh"})
        welcome = await ws_frames(ws, lambda f: f)
        assert welcome[0] == {"type": "welcome", "conversation_id": None, "state": "bot"}
        await ws.send_json({"type": "message", "text": "你好", "client_message_id": "w1"})
        frames = await ws_frames(ws, lambda f: any(x["type"] == "ack" for x in f))
        kinds = [f["type"] for f in frames]
        assert "welcome" in kinds  # the conversation now exists
        messages = [f["message"] for f in frames if f["type"] == "message"]
        assert messages[0]["author"] == "customer" and messages[0]["client_message_id"] == "w1"
        assert any(m["author"] == "system" for m in messages)
        assert any(f["type"] == "typing" for f in frames)
        ack = next(f for f in frames if f["type"] == "ack")
        assert ack["state"] == "queued" and ack["duplicate"] is False
        first_id = messages[0]["id"]
        last_seen = max(m["id"] for m in messages)

    # The connection dropped; the client resumes and re-sends what it had not seen acked.
    async with client.session.ws_connect(url) as ws:
        await ws.send_json({"type": "hello", "sender": who, "last_id": first_id})
        frames = await ws_frames(ws, lambda f: any(x["type"] == "welcome" for x in f))
        await ws.send_json({"type": "message", "text": "你好", "client_message_id": "w1"})
        frames += await ws_frames(ws, lambda f: any(x["type"] == "ack" for x in f))
        welcome = next(f for f in frames if f["type"] == "welcome")
        assert welcome["state"] == "queued" and welcome["queue"]["position"] >= 1
        resumed = [f["message"]["id"] for f in frames if f["type"] == "message"]
        assert resumed and min(resumed) > first_id and max(resumed) == last_seen
        ack = next(f for f in frames if f["type"] == "ack")
        assert ack["duplicate"] is True
    history = await client.history(who)
    assert [m["client_message_id"] for m in history["messages"] if m["author"] == "customer"] == [
        "w1"
    ]


async def test_websocket_rejects_bad_hello_and_huge_message(client: GatewayClient) -> None:
    async with client.session.ws_connect(f"{client.gateway.ws_url}/ws") as ws:
        await ws.send_json({"type": "message", "text": "no hello"})
        closed = await ws.receive(timeout=5)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with client.session.ws_connect(f"{client.gateway.ws_url}/ws") as ws:
        await ws.send_json({"type": "hello", "sender": sender()})
        await ws_frames(ws, lambda f: f)
        await ws.send_json({"type": "message", "text": "x" * 2001, "client_message_id": "big"})
        frames = await ws_frames(ws, lambda f: any(x["type"] == "error" for x in f))
        error = next(f for f in frames if f["type"] == "error")
        assert error["code"] == "message_too_large" and error["client_message_id"] == "big"


INBOX_ROUTES = [
    ("POST", "/logout"),
    ("GET", "/me"),
    ("GET", "/queue"),
    ("GET", "/conversations"),
    ("GET", "/conversations/{id}"),
    ("POST", "/conversations/{id}/claim"),
    ("POST", "/conversations/{id}/reply"),
    ("POST", "/conversations/{id}/transfer"),
    ("POST", "/conversations/{id}/resolve"),
    ("POST", "/conversations/{id}/notes"),
    ("GET", "/agents"),
    ("GET", "/tickets"),
    ("POST", "/tickets/{ticket}/take"),
]


def test_auth_list_covers_every_inbox_route() -> None:
    app = create_app(Settings(database_url="sqlite://"), name="route_listing")
    listed = {
        (
            method,
            path.replace("{id}", "<conversation_id:str>").replace("{ticket}", "<ticket_id:int>"),
        )
        for method, path in INBOX_ROUTES
    }
    actual = {
        (method, "/" + route.path.removeprefix("api/v1/inbox/"))
        for route in app.router.routes
        if route.path.startswith("api/v1/inbox/") and not route.path.endswith("/login")
        for method in route.methods
    }
    assert actual == listed


@pytest.mark.parametrize("method,path", INBOX_ROUTES)
async def test_every_inbox_api_refuses_without_login(
    client: GatewayClient, method: str, path: str
) -> None:
    path = path.format(id=uuid.uuid4().hex, ticket=1)
    for token in (None, "forged-session-token"):
        status, body = await client.inbox(method, path, token, body={"text": "x", "agent_id": 1})
        assert status == 401, (path, body)
        assert body["error"]["code"] == "unauthorized"


async def test_login_failures(client: GatewayClient) -> None:
    status, body = await client.inbox(
        "POST", "/login", None, {"username": "alice", "password": "wrong-password"}
    )
    assert status == 401 and "wrong-password" not in json.dumps(body)
    status, _ = await client.inbox("POST", "/login", None, {"username": "nobody", "password": "x"})
    assert status == 401


async def test_supervisor_only_views(client: GatewayClient) -> None:
    alice = await client.login("alice")
    sue = await client.login("sue")
    status, _ = await client.inbox("GET", "/conversations?scope=all", alice)
    assert status == 403
    status, body = await client.inbox("GET", "/conversations?scope=all&state=all", sue)
    assert status == 200 and isinstance(body["conversations"], list)
    status, body = await client.inbox("GET", "/agents", sue)
    assert {"alice", "bob", "sue"} <= {a["username"] for a in body["agents"]}
    assert all("active_conversations" in a for a in body["agents"])
    status, body = await client.inbox("GET", "/agents", alice)
    assert status == 200 and all("active_conversations" not in a for a in body["agents"])


async def test_inbox_socket_requires_login(client: GatewayClient) -> None:
    async with client.session.ws_connect(f"{client.gateway.ws_url}/inbox/ws") as ws:
        message = await ws.receive(timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4401


async def test_cookie_session_and_logout(client: GatewayClient) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        base = f"{client.gateway.base_url}/api/v1/inbox"
        async with browser.post(f"{base}/login", json={"username": "bob", "password": "x"}) as r:
            assert r.status == 401

        async with browser.post(
            f"{base}/login", json={"username": "bob", "password": PASSWORD}
        ) as r:
            assert r.status == 200
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with browser.get(f"{base}/me") as r:
            assert r.status == 200 and (await r.json())["agent"]["username"] == "bob"
        async with browser.post(f"{base}/logout") as r:
            assert r.status == 200
        async with browser.get(f"{base}/me") as r:
            assert r.status == 401


async def _queued_conversation(client: GatewayClient) -> tuple[str, str]:
    who = sender()
    _, body = await client.send(who, "我要投诉")
    assert body["state"] == "queued"
    return who, str(body["conversation_id"])


async def test_concurrent_claims_over_http_exactly_one_wins(client: GatewayClient) -> None:
    alice, bob = await client.login("alice"), await client.login("bob")
    for _ in range(5):
        _, conversation_id = await _queued_conversation(client)
        results = await asyncio.gather(
            client.inbox("POST", f"/conversations/{conversation_id}/claim", alice),
            client.inbox("POST", f"/conversations/{conversation_id}/claim", bob),
        )
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 409], results


async def test_agent_round_trip_with_live_delivery(client: GatewayClient) -> None:
    who, conversation_id = await _queued_conversation(client)
    alice, bob, sue = [await client.login(n) for n in ("alice", "bob", "sue")]

    status, body = await client.inbox("GET", "/queue", alice)
    entry = next(e for e in body["queue"] if e["conversation_id"] == conversation_id)
    assert entry["reason"] == "bot_unavailable" and entry["channel"] == "web"
    assert entry["waiting_seconds"] >= 0

    async with client.session.ws_connect(f"{client.gateway.ws_url}/ws") as ws:
        await ws.send_json({"type": "hello", "sender": who})
        await ws_frames(ws, lambda f: any(x["type"] == "welcome" for x in f))

        status, _ = await client.inbox("POST", f"/conversations/{conversation_id}/claim", alice)
        assert status == 200
        frames = await ws_frames(
            ws, lambda f: any(x["type"] == "state" and x["state"] == "agent" for x in f)
        )
        state = next(f for f in frames if f["type"] == "state")
        assert state["agent_name"] == "王芳"

        # Only the holder may reply; others get 409 (or 403 for viewing).
        status, _ = await client.inbox(
            "POST", f"/conversations/{conversation_id}/reply", bob, {"text": "hi"}
        )
        assert status == 409
        status, _ = await client.inbox("GET", f"/conversations/{conversation_id}", bob)
        assert status == 403
        status, body = await client.inbox(
            "POST", f"/conversations/{conversation_id}/reply", alice, {"text": "您好，我是王芳"}
        )
        assert status == 200
        frames = await ws_frames(
            ws,
            lambda f: any(x["type"] == "message" and x["message"]["author"] == "agent" for x in f),
        )
        reply = next(f["message"] for f in frames if f["type"] == "message")
        assert reply["text"] == "您好，我是王芳" and reply["agent_name"] == "王芳"

        # While the agent holds it, the customer's message goes to the agent, not the bot.
        status, body = await client.send(who, "好的谢谢")
        assert body["state"] == "agent" and body["replies"] == []

        status, _ = await client.inbox(
            "POST", f"/conversations/{conversation_id}/notes", alice, {"text": "VIP 客户"}
        )
        assert status == 200
        status, agents = await client.inbox("GET", "/agents", sue)
        load = {a["username"]: a["active_conversations"] for a in agents["agents"]}
        assert load["alice"] >= 1

        bob_id = next(a["id"] for a in agents["agents"] if a["username"] == "bob")
        status, _ = await client.inbox(
            "POST", f"/conversations/{conversation_id}/transfer", alice, {"agent_id": bob_id}
        )
        assert status == 200
        status, _ = await client.inbox("POST", f"/conversations/{conversation_id}/resolve", alice)
        assert status == 409  # it is Bob's now
        status, _ = await client.inbox("POST", f"/conversations/{conversation_id}/resolve", bob)
        assert status == 200
        frames = await ws_frames(
            ws, lambda f: any(x["type"] == "state" and x["state"] == "resolved" for x in f)
        )

    status, detail = await client.inbox("GET", f"/conversations/{conversation_id}", alice)
    assert status == 200  # she handled it before
    authors = [m["author"] for m in detail["messages"]]
    assert authors.count("agent") == 1 and "customer" in authors and "system" in authors
    assert [n["text"] for n in detail["notes"]] == ["VIP 客户"]
    assert detail["card"]["reason"] == "bot_unavailable"

    # After resolution the next message starts a new contact with the bot (down: queued).
    _, body = await client.send(who, "还有个问题")
    assert body["state"] == "queued"


async def test_customer_sending_while_the_agent_resolves(client: GatewayClient) -> None:
    for round_ in range(4):
        who, conversation_id = await _queued_conversation(client)
        alice = await client.login("alice")
        await client.inbox("POST", f"/conversations/{conversation_id}/claim", alice)
        (send_status, sent), (resolve_status, _) = await asyncio.gather(
            client.send(who, f"在吗 {round_}", client_message_id=f"race-{round_}"),
            client.inbox("POST", f"/conversations/{conversation_id}/resolve", alice),
        )
        assert send_status == 200 and resolve_status == 200
        history = await client.history(who)
        mine = [m for m in history["messages"] if m.get("client_message_id") == f"race-{round_}"]
        assert len(mine) == 1  # stored exactly once, whichever came first
        assert sent["state"] in ("agent", "queued", "resolved")


async def test_html_is_stored_and_returned_as_plain_text(client: GatewayClient) -> None:
    who = sender()
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await client.send(who, payload)
    history = await client.history(who)
    assert history["messages"][0]["text"] == payload  # the clients render it as text


async def test_demo_token_endpoint_is_off_without_demo_mode(client: GatewayClient) -> None:
    async with client.session.get(
        f"{client.gateway.base_url}/demo/token?customer=C1001"
    ) as response:
        assert response.status == 404
    async with client.session.get(f"{client.gateway.base_url}/demo/config") as response:
        assert (await response.json()) == {"demo_mode": False, "customers": []}


async def test_a_thread_stays_with_its_verified_customer(client: GatewayClient) -> None:
    who = sender()
    zhang = issue_customer_token("C1001", TOKEN_SECRET)
    li = issue_customer_token("C1002", TOKEN_SECRET)
    status, _ = await client.send(who, "查订单", customer_token=zhang)
    assert status == 200
    status, body = await client.send(who, "查订单", customer_token=li)
    assert status == 409 and body["error"]["code"] == "conflict"
    async with client.session.ws_connect(f"{client.gateway.ws_url}/ws") as ws:
        await ws.send_json({"type": "hello", "sender": who, "customer_token": li})
        frames = await ws_frames(ws, lambda f: f)
        assert frames[0] == {"type": "error", "code": "identity_conflict"}
        closed = await ws.receive(timeout=5)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4409
