"""Database cost of one customer message: transactions and statements per message.

The gateway is built in-process on a real SQLite file (the same wiring as ``python -m
bot``: stores, bus, metrics hooks and listeners, live pushes) in front of the scripted
Rasa stand-in. SQLAlchemy engine events count what each message costs, including the
queued listeners it sets off (contact bookkeeping), which run in the same process.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.app import Gateway, build_gateway
from bot.channels.base import InboundMessage
from bot.conversations import HandledMessage
from bot.settings import Settings
from tests.bot.fake_rasa import FakeRasa, FakeRasaServer

# The ceilings this test holds the message path to. Before they were set the path cost
# 6 transactions / 17 statements (first message) and 5 / 14 (a later one), reading the
# conversation row by id 5 and 4 times. A later message now costs: 1. read the
# conversation by sender together with the message of the same client id (de-duplication),
# update it, insert the message; 2. re-read the conversation (its state after the turn),
# insert the replies, mark the message processed, count the turn on the contact. The
# first message adds its contact's creation (a queued listener of ``conversation.started``).
FIRST_MESSAGE_TRANSACTIONS = 3
LATER_MESSAGE_TRANSACTIONS = 2
FIRST_MESSAGE_STATEMENTS = 11
LATER_MESSAGE_STATEMENTS = 9
# A repeat (same client_message_id): find it with its conversation, then read its replies.
REPEATED_MESSAGE_TRANSACTIONS = 2

_CONVERSATION_BY_ID = re.compile(
    r"FROM conversations\s+WHERE conversations\.id = ", re.IGNORECASE | re.DOTALL
)


@dataclass
class Cost:
    """What the engine was asked to do."""

    transactions: int = 0
    statements: list[str] = field(default_factory=list)

    @property
    def conversation_reads(self) -> int:
        """SELECTs of one conversation row by its id."""
        return sum(
            1
            for s in self.statements
            if s.lstrip().upper().startswith("SELECT") and _CONVERSATION_BY_ID.search(s)
        )

    def __str__(self) -> str:
        return (
            f"{self.transactions} transactions, {len(self.statements)} statements "
            f"({self.conversation_reads} conversation reads by id)"
        )


class Meter:
    """Counts the transactions and statements of an engine while it is on."""

    def __init__(self, engine: Any) -> None:
        self.cost = Cost()
        self.on = False
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._commit)
        event.listen(engine, "before_cursor_execute", self._statement)

    def _commit(self, _connection: Any) -> None:
        if self.on:
            self.cost.transactions += 1

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # SQLite's BEGIN IMMEDIATE (bot/store/db.py) is part of the transaction, not a query.
        if self.on and not statement.lstrip().upper().startswith("BEGIN"):
            self.cost.statements.append(statement)

    async def measure(
        self, gateway: Gateway, inbound: InboundMessage
    ) -> tuple[HandledMessage, Cost]:
        """Handle one message and let its queued listeners finish; return what it cost."""
        self.cost = Cost()
        self.on = True
        try:
            result = await gateway.conversations.handle(inbound)
            await gateway.bus.join()
        finally:
            self.on = False
        return result, self.cost


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasaServer()
    state = server.start()
    state.turn_header = True  # as the project's REST channel (deploy/turn_channel.py)
    try:
        yield state
    finally:
        server.stop()


@asynccontextmanager
async def running_gateway(
    database: Path, rasa_url: str, **env: str
) -> AsyncIterator[Gateway]:
    """A gateway built in-process as ``python -m bot`` builds it, started, then stopped."""
    settings = Settings.from_env(
        {
            "GATEWAY_DATABASE_URL": f"sqlite:///{database}",
            "RASA_URL": rasa_url,
            "SERVICE_HOURS": "00:00-24:00",
            "CUSTOMER_TOKEN_SECRET": "test-secret",
            "AGENT_SESSION_SECRET": "test-secret",
            **env,
        }
    )
    gateway = build_gateway(settings)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture
async def gateway(fake_rasa: FakeRasa, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(tmp_path / "gateway.db", fake_rasa.url) as started:
        yield started


def message(text: str, client_id: str) -> InboundMessage:
    return InboundMessage(
        channel="web",
        sender="cost-1",
        text=text,
        customer_id=None,
        client_message_id=client_id,
        language="zh",
    )


async def test_a_message_the_bot_answers_costs_few_transactions(gateway: Gateway) -> None:
    meter = Meter(gateway.stores.db.engine)

    first, first_cost = await meter.measure(gateway, message("你好", "c1"))
    later, later_cost = await meter.measure(gateway, message("我有多少积分", "c2"))
    print(f"\nfirst message: {first_cost}\nlater message: {later_cost}")

    assert [r.text for r in first.replies] == ["您好！有什么可以帮您？"]
    assert [r.text for r in later.replies] == ["您有 1200 积分"]
    assert later.conversation.state == "bot" and not later.duplicate
    assert first_cost.transactions <= FIRST_MESSAGE_TRANSACTIONS, first_cost
    assert later_cost.transactions <= LATER_MESSAGE_TRANSACTIONS, later_cost
    assert len(first_cost.statements) <= FIRST_MESSAGE_STATEMENTS, first_cost.statements
    assert len(later_cost.statements) <= LATER_MESSAGE_STATEMENTS, later_cost.statements
    assert first_cost.conversation_reads <= 1, first_cost.statements
    assert later_cost.conversation_reads <= 1, later_cost.statements


async def test_a_repeated_message_is_answered_from_the_store(gateway: Gateway) -> None:
    meter = Meter(gateway.stores.db.engine)
    original, _ = await meter.measure(gateway, message("我有多少积分", "r1"))

    repeat, repeat_cost = await meter.measure(gateway, message("我有多少积分", "r1"))
    print(f"\nrepeated message: {repeat_cost}")

    assert repeat.duplicate and repeat.message.id == original.message.id
    assert [r.id for r in repeat.replies] == [r.id for r in original.replies]
    assert repeat_cost.transactions <= REPEATED_MESSAGE_TRANSACTIONS, repeat_cost


class Tab:
    """A connected customer's socket (what the hub calls on it)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)


QUEUE_READ = re.compile(r"FROM handoffs JOIN conversations", re.IGNORECASE)


async def test_a_handoff_reads_the_queue_only_where_a_waiting_customer_is_connected(
    gateway: Gateway,
) -> None:
    """One instance, pushes in memory: a queue change reads nothing while no waiting
    customer is connected, and one read refreshes a connected one. (Shared through Redis,
    where the old code read the whole queue on every change:
    tests/production/test_queue_refresh.py.)"""
    meter = Meter(gateway.stores.db.engine)
    handed, cost = await meter.measure(gateway, message("转人工", "h1"))
    await asyncio.sleep(0.2)  # the refresh runs after the change's signal
    assert handed.conversation.state == "queued"
    assert not any(QUEUE_READ.search(s) for s in cost.statements), cost.statements

    tab = Tab()
    await gateway.hub.add_customer(handed.conversation.id, tab)  # type: ignore[arg-type]
    meter.cost, meter.on = Cost(), True
    gateway.hub.signal("queue")
    await asyncio.sleep(0.2)
    meter.on = False
    assert sum(1 for s in meter.cost.statements if QUEUE_READ.search(s)) == 1
    assert tab.frames and tab.frames[-1]["queue"]["position"] == 1
