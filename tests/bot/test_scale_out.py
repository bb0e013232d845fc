"""The gateway's parts for the production profile: several Rasa servers, database retries.

Real HTTP servers on free ports stand in for Rasa servers; nothing needs a model.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy.exc import IntegrityError, OperationalError

import bot.store.db as db_module
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.store.db import Database


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeRasa:
    """A REST webhook answering a fixed payload and counting what it got."""

    def __init__(self, name: str, payload: object, status: int = 200) -> None:
        self.name = name
        self.payload = payload
        self.status = status
        self.received: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def webhook(request: web.Request) -> web.Response:
            body = await request.json()
            self.received.append(body["message"])
            return web.json_response(self.payload, status=self.status)

        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", webhook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[FakeRasa, FakeRasa]]:
    first = FakeRasa("a", [{"recipient_id": "c", "text": "from a"}])
    second = FakeRasa("b", [{"recipient_id": "c", "text": "from b"}])
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def test_messages_alternate_between_rasa_servers(
    two_servers: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_servers
    client = RasaClient(f"{first.url}, {second.url}", timeout=5)
    try:
        texts = [(await client.send("c", f"m{i}", {})).replies[0].text for i in range(4)]
    finally:
        await client.close()
    assert texts == ["from a", "from b", "from a", "from b"]
    assert first.received == ["m0", "m2"] and second.received == ["m1", "m3"]


async def test_a_refusing_server_is_skipped_and_nothing_is_sent_twice(
    two_servers: tuple[FakeRasa, FakeRasa],
) -> None:
    first, _ = two_servers
    dead = f"http://127.0.0.1:{free_port()}"
    client = RasaClient(f"{dead},{first.url}", timeout=5)
    try:
        turns = [await client.send("c", f"m{i}", {}) for i in range(3)]
    finally:
        await client.close()
    assert [t.replies[0].text for t in turns] == ["from a"] * 3
    assert first.received == ["m0", "m1", "m2"]


async def test_an_empty_answer_counts_as_unavailable() -> None:
    """Rasa answers [] when its action server, tracker store or lock store failed."""
    empty = FakeRasa("empty", [])
    await empty.start()
    client = RasaClient(empty.url, timeout=5)
    try:
        with pytest.raises(RasaUnavailable, match="empty"):
            await client.send("c", "hello", {})
    finally:
        await client.close()
        await empty.stop()


async def test_a_server_error_is_not_replayed_on_the_next_server(
    two_servers: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_servers
    first.status = 500
    client = RasaClient(f"{first.url},{second.url}", timeout=5)
    try:
        with pytest.raises(RasaUnavailable):
            await client.send("c", "maybe processed", {})
    finally:
        await client.close()
    assert first.received == ["maybe processed"] and second.received == []


def test_lost_database_connections_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "RETRY_FIRST_DELAY", 0.01)
    database = Database(f"postgresql://u:p@127.0.0.1:{free_port()}/gateway")
    calls: list[int] = []

    def flaky(_session: object) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return "stored"

    assert database.run_sync(flaky) == "stored"
    assert len(calls) == 3

    def always_down(_session: object) -> str:
        calls.append(1)
        raise OperationalError("SELECT 1", {}, Exception("could not connect"))

    calls.clear()
    with pytest.raises(OperationalError):
        database.run_sync(always_down)
    assert len(calls) == db_module.RETRY_ATTEMPTS
    database.dispose()


def test_other_database_errors_and_sqlite_are_not_retried(tmp_path: object) -> None:
    database = Database(f"postgresql://u:p@127.0.0.1:{free_port()}/gateway")
    calls: list[int] = []

    def duplicate(_session: object) -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        database.run_sync(duplicate)
    assert len(calls) == 1
    database.dispose()

    sqlite = Database(f"sqlite:///{tmp_path}/gw.db")
    calls.clear()

    def locked(_session: object) -> None:
        calls.append(1)
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with pytest.raises(OperationalError):
        sqlite.run_sync(locked)
    assert len(calls) == 1
    sqlite.dispose()
