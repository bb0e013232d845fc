"""Two gateway instances on one PostgreSQL database and one Redis: an agent's reply posted
on one reaches the customer's WebSocket held by the other, and degrades (history only)
while Redis is down, then recovers.

Rasa is deliberately unreachable: every customer message fails open to the queue, which
is all these tests need (no model, a few seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from deploy.stack import ROOT, Services, free_port, wait_http
from tests.production.customers import TOKEN_SECRET, customer_token

PASSWORD = "correct horse battery staple"


@dataclass
class Gateway:
    """One running gateway instance."""

    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def two_gateways(
    prod_services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Gateway]]:
    work: Path = tmp_path_factory.mktemp("gateways")
    env = {
        **os.environ,
        **prod_services.env,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_HOST": "127.0.0.1",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "RASA_TIMEOUT": "3",
        "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
        "AGENT_SESSION_SECRET": "prod-test-agent-session-secret",
        "SERVICE_HOURS": "00:00-24:00",
        "DEMO_MODE": "0",
    }
    gateways = []
    for index in range(2):
        port = free_port()
        log = (work / f"gateway-{index}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env={**env, "GATEWAY_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        gateways.append(Gateway(f"http://127.0.0.1:{port}", process))
        wait_http(f"http://127.0.0.1:{port}/health", 60, process)
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "create-agent", "--username", "wang",
         "--display-name", "王芳", "--role", "agent", "--password-env", "AGENT_PASSWORD"],
        cwd=ROOT, env={**env, "AGENT_PASSWORD": PASSWORD}, check=False, capture_output=True,
    )
    try:
        yield gateways[0], gateways[1]
    finally:
        for gateway in gateways:
            gateway.process.terminate()
            gateway.process.wait(timeout=30)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def agent_token(http: aiohttp.ClientSession, gateway: Gateway) -> str:
    async with http.post(
        f"{gateway.url}/api/v1/inbox/login", json={"username": "wang", "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])


async def frames_until(
    ws: aiohttp.ClientWebSocketResponse, match: Any, timeout: float
) -> dict[str, Any] | None:
    """Reads frames until one satisfies `match`; None if none came within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            message = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            return None
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame = json.loads(message.data)
        if match(frame):
            return frame
    return None


async def queued_customer(
    http: aiohttp.ClientSession, gateway: Gateway
) -> tuple[aiohttp.ClientWebSocketResponse, str, str]:
    """A customer on `gateway`'s WebSocket whose conversation is queued (Rasa is down):
    the socket, the conversation id and the customer's sender id."""
    ws = await http.ws_connect(gateway.url.replace("http://", "ws://") + "/ws")
    sender = f"share-{uuid.uuid4().hex[:12]}"
    await ws.send_json({"type": "hello", "sender": sender,
                        "customer_token": customer_token("C1001"), "language": "zh"})
    await ws.send_json({"type": "message", "text": "我的快递怎么还没到",
                        "client_message_id": f"{sender}-1"})
    ack = await frames_until(ws, lambda f: f.get("type") == "ack", 30)
    assert ack is not None and ack["state"] == "queued"
    async with http.post(f"{gateway.url}/api/v1/history",
                         json={"channel": "web", "sender": sender, "after_id": 0}) as response:
        conversation_id = str((await response.json())["conversation_id"])
    return ws, conversation_id, sender


async def history_texts(http: aiohttp.ClientSession, gateway: Gateway, sender: str) -> list[str]:
    async with http.post(f"{gateway.url}/api/v1/history",
                         json={"channel": "web", "sender": sender, "after_id": 0}) as response:
        assert response.status == 200
        return [str(m.get("text")) for m in (await response.json())["messages"]]


async def claim_and_reply(
    http: aiohttp.ClientSession, gateway: Gateway, conversation_id: str, text: str
) -> None:
    headers = {"Authorization": f"Bearer {await agent_token(http, gateway)}"}
    base = f"{gateway.url}/api/v1/inbox/conversations/{conversation_id}"
    async with http.post(f"{base}/claim", headers=headers) as response:
        assert response.status in (200, 409), await response.text()
    async with http.post(f"{base}/reply", headers=headers, json={"text": text}) as response:
        assert response.status == 200, await response.text()


def is_agent_message(text: str) -> Any:
    return lambda f: f.get("type") == "message" and f["message"].get("text") == text


async def test_agent_reply_on_one_gateway_reaches_the_socket_on_the_other(
    two_gateways: tuple[Gateway, Gateway], http: aiohttp.ClientSession
) -> None:
    agents_gateway, customers_gateway = two_gateways
    ws, conversation_id, _ = await queued_customer(http, customers_gateway)
    try:
        await claim_and_reply(http, agents_gateway, conversation_id, "您好，我是王芳")
        frame = await frames_until(ws, is_agent_message("您好，我是王芳"), 10)
        assert frame is not None, "the reply never reached the other instance's socket"
        assert frame["message"]["author"] == "agent"
    finally:
        await ws.close()


def is_queue_place(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "state" and isinstance(frame.get("queue"), dict)


async def queue_place(http: aiohttp.ClientSession, gateway: Gateway, conversation_id: str) -> int:
    """A conversation's place in the queue, as the inbox lists it."""
    headers = {"Authorization": f"Bearer {await agent_token(http, gateway)}"}
    async with http.get(f"{gateway.url}/api/v1/inbox/queue", headers=headers) as response:
        assert response.status == 200, await response.text()
        queue = (await response.json())["queue"]
    return int(next(e["position"] for e in queue if e["conversation_id"] == conversation_id))


async def test_a_queue_change_on_one_gateway_moves_the_places_shown_on_the_other(
    two_gateways: tuple[Gateway, Gateway], http: aiohttp.ClientSession
) -> None:
    agents_gateway, customers_gateway = two_gateways
    ws_first, first_id, _ = await queued_customer(http, customers_gateway)
    ws_second, second_id, _ = await queued_customer(http, customers_gateway)
    try:
        place = await queue_place(http, agents_gateway, second_id)
        assert place >= 2  # behind the first customer at least
        # The first customer leaves the queue on the other instance: the second moves up.
        await claim_and_reply(http, agents_gateway, first_id, "您好")
        moved = await frames_until(
            ws_second, lambda f: is_queue_place(f) and f["queue"]["position"] == place - 1, 10
        )
        assert moved is not None, "the other instance never refreshed the waiting customer"
    finally:
        await ws_first.close()
        await ws_second.close()


async def test_without_redis_live_delivery_degrades_and_recovers(
    two_gateways: tuple[Gateway, Gateway], http: aiohttp.ClientSession,
    prod_services: Services,
) -> None:
    agents_gateway, customers_gateway = two_gateways
    ws, conversation_id, sender = await queued_customer(http, customers_gateway)
    try:
        await asyncio.to_thread(prod_services.stop, "redis")
        try:
            await claim_and_reply(http, agents_gateway, conversation_id, "Redis 停了也能回复")
            # Degraded: stored (the customer sees it in the history) but not pushed across.
            assert await frames_until(ws, is_agent_message("Redis 停了也能回复"), 3) is None
            assert "Redis 停了也能回复" in await history_texts(http, customers_gateway, sender)
        finally:
            await asyncio.to_thread(prod_services.start, "redis")
        recovered = None
        for attempt in range(20):  # the instances resubscribe with back-off (max 10 s)
            text = f"恢复了 {attempt}"
            await claim_and_reply(http, agents_gateway, conversation_id, text)
            recovered = await frames_until(ws, is_agent_message(text), 1.5)
            if recovered:
                break
        assert recovered is not None, "live delivery did not come back after Redis returned"
    finally:
        await ws.close()


async def test_conversation_locks_are_shared_between_instances(prod_services: Services) -> None:
    """Two lock objects (as in two gateway processes) serialise one conversation's work,
    in order, and keep working on their own while Redis is down."""
    from bot.shared_locks import SharedKeyedLocks

    url = prod_services.env["REDIS_URL"]
    first, second = SharedKeyedLocks(url), SharedKeyedLocks(url)
    order: list[str] = []

    async def work(locks: SharedKeyedLocks, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with locks.hold("conversation-1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.3)
            order.append(f"{name} out")

    try:
        await asyncio.gather(work(first, "a", 0), work(second, "b", 0.05),
                             work(first, "c", 0.1))
        assert order in (
            ["a in", "a out", "b in", "b out", "c in", "c out"],
            ["a in", "a out", "c in", "c out", "b in", "b out"],
        ), order
        await asyncio.to_thread(prod_services.stop, "redis")
        order.clear()
        try:
            await asyncio.gather(work(first, "a", 0), work(first, "c", 0.05))
        finally:
            await asyncio.to_thread(prod_services.start, "redis")
        assert order == ["a in", "a out", "c in", "c out"]  # still serial in one process
    finally:
        await first.close()
        await second.close()


class RecordingSocket:
    """A connection that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def test_pushes_made_together_cross_in_few_redis_messages_in_order(
    prod_services: Services,
) -> None:
    """A burst of pushes on one instance reaches a connection on the other complete and in
    order, batched into far fewer Redis messages than pushes."""
    import redis.asyncio as aioredis

    from bot.live import Peer
    from bot.live_redis import RedisLiveHub

    url, channel = prod_services.env["REDIS_URL"], f"test:live:{uuid.uuid4().hex}"
    sender, receiver = RedisLiveHub(url, channel), RedisLiveHub(url, channel)
    spy = aioredis.from_url(url).pubsub()
    await spy.psubscribe(f"{channel}:*")
    await sender.start()
    await receiver.start()
    try:
        await asyncio.wait_for(sender.subscribed.wait(), 10)
        await asyncio.wait_for(receiver.subscribed.wait(), 10)
        socket = RecordingSocket()
        await receiver.add_customer("c1", Peer(socket))
        for n in range(200):  # one burst (below a connection's 256 pending frames)
            sender.to_customer("c1", {"type": "message", "n": n})
        for _ in range(100):
            if len(socket.sent) == 200:
                break
            await asyncio.sleep(0.05)
        assert [frame["n"] for frame in socket.sent] == list(range(200))
        published, quiet = 0, 0
        while quiet < 5:  # None also stands for the ignored subscribe confirmation
            item = await spy.get_message(ignore_subscribe_messages=True, timeout=0.1)
            published, quiet = (published + 1, 0) if item else (published, quiet + 1)
        assert 1 <= published <= 10, published
    finally:
        await sender.close()
        await receiver.close()
        await spy.close()


async def test_an_instance_listens_only_to_the_audiences_it_holds(prod_services: Services) -> None:
    """Pushes for a conversation reach only the instances holding one of its sockets, and
    inbox pushes only those holding an inbox: no instance parses every push of every other
    (with one shared channel the work grew with the square of the instances)."""
    import redis.asyncio as aioredis

    from bot.live import AgentPeer, Peer
    from bot.live_redis import RedisLiveHub
    from bot.store.records import AgentRecord

    url, channel = prod_services.env["REDIS_URL"], f"test:live:{uuid.uuid4().hex}"
    first, second = RedisLiveHub(url, channel), RedisLiveHub(url, channel)
    redis = aioredis.from_url(url)

    async def listeners(name: str) -> int:
        ((_, count),) = await redis.pubsub_numsub(f"{channel}:{name}")
        return int(count)

    await first.start()
    await second.start()
    try:
        await asyncio.wait_for(first.subscribed.wait(), 10)
        await asyncio.wait_for(second.subscribed.wait(), 10)
        assert await listeners("instances") == 2  # signals reach every instance
        assert await listeners("customer:c1") == 0 and await listeners("agents") == 0

        socket = RecordingSocket()
        peer = Peer(socket)
        await second.add_customer("c1", peer)
        assert await listeners("customer:c1") == 1  # confirmed before add_customer returned
        first.to_customer("c1", {"type": "message", "n": 1})
        first.to_customer("c2", {"type": "message", "n": 2})  # nobody holds c2
        for _ in range(50):
            if socket.sent:
                break
            await asyncio.sleep(0.05)
        assert socket.sent == [{"type": "message", "n": 1}]

        agent_socket = RecordingSocket()
        account = AgentRecord(id=1, username="a", display_name="A", role="agent", active=True)
        agent = AgentPeer(agent_socket, account)
        await first.add_agent(agent)
        assert await listeners("agents") == 1
        second.to_agents({"type": "queue", "n": 3})
        for _ in range(50):
            if agent_socket.sent:
                break
            await asyncio.sleep(0.05)
        assert agent_socket.sent == [{"type": "queue", "n": 3}]

        second.remove_customer("c1", peer)
        first.remove_agent(agent)
        for _ in range(50):
            if await listeners("customer:c1") == 0 and await listeners("agents") == 0:
                break
            await asyncio.sleep(0.05)
        assert await listeners("customer:c1") == 0 and await listeners("agents") == 0
        peer.stop()
        agent.stop()
    finally:
        await first.close()
        await second.close()
        await redis.close()
