"""The gateway's store and handoff state machine over a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.errors import Conflict
from bot.events import EventBus
from bot.handoff import HandoffService
from bot.inbox.passwords import hash_password
from bot.rasa_client import HandoffSignal
from bot.settings import ServiceHours
from bot.store import Stores
from bot.store.conversations import Received
from bot.store.records import AgentRecord, ConversationRecord
from bot.transcript import KeyedLocks, Transcript

OPEN_ALL_DAY = ServiceHours.parse("00:00-24:00", "+08:00")


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    stores = Stores.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    stores.db.create_schema()
    yield stores
    stores.db.dispose()


def make_agent(stores: Stores, username: str, role: str = "agent") -> AgentRecord:
    return stores.agents.create_sync(username, username.title(), role, hash_password("pw-123456"))


def make_service(
    stores: Stores, hours: ServiceHours = OPEN_ALL_DAY, now: datetime | None = None
) -> tuple[HandoffService, EventBus]:
    bus = EventBus()
    service = HandoffService(
        stores=stores,
        transcript=Transcript(stores.conversations, bus),
        bus=bus,
        locks=KeyedLocks(),
        service_hours=hours,
        minutes_per_customer=3,
        clock=(lambda: now) if now else (lambda: datetime.now(timezone.utc)),
    )
    return service, bus


async def new_conversation(stores: Stores, sender: str, lang: str = "zh") -> ConversationRecord:
    conversation, created = await stores.conversations.open("web", sender, None, lang)
    assert created
    return conversation


async def queue_up(stores: Stores, service: HandoffService, prefix: str, count: int) -> list[str]:
    """`count` new conversations asking for a person, in order; their ids."""
    ids = []
    for i in range(count):
        conv = await new_conversation(stores, f"{prefix}-{i}")
        await service.request(conv, HandoffSignal("customer_request"))
        ids.append(conv.id)
    return ids


async def test_open_is_idempotent_and_keeps_first_verified_customer(stores: Stores) -> None:
    first, created = await stores.conversations.open("web", "s1", "C1001", "zh")
    again, created_again = await stores.conversations.open("web", "s1", "C1002", "en")
    assert created and not created_again
    assert again.id == first.id
    assert again.customer_id == "C1001"  # never silently rebound to someone else
    assert again.language == "en"


async def receive(
    stores: Stores, conv: ConversationRecord, text: str, client_message_id: str | None
) -> Received:
    """Store a customer message in an existing conversation."""
    return await stores.conversations.receive(
        conv.id, conv.channel, conv.sender, text, client_message_id, None, None
    )


async def test_customer_message_dedup(stores: Stores) -> None:
    conv = await new_conversation(stores, "s-dedup")
    first = await receive(stores, conv, "你好", "cm-1")
    repeat = await receive(stores, conv, "你好", "cm-1")
    other = await receive(stores, conv, "你好", "cm-2")
    assert not first.duplicate and repeat.duplicate and not other.duplicate
    assert first.message is not None and repeat.message is not None
    assert repeat.message.id == first.message.id
    texts = [m.client_message_id for m in await stores.conversations.transcript(conv.id)]
    assert texts == ["cm-1", "cm-2"]


async def test_concurrent_duplicates_store_once(stores: Stores) -> None:
    conv = await new_conversation(stores, "s-race")
    results = await asyncio.gather(*[receive(stores, conv, "在吗", "same-id") for _ in range(8)])
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.message.id for r in results if r.message}) == 1
    assert all(r.message is not None for r in results)
    assert len(await stores.conversations.transcript(conv.id)) == 1


async def test_two_agents_claiming_at_once_exactly_one_wins(stores: Stores) -> None:
    alice, bob = make_agent(stores, "alice"), make_agent(stores, "bob")
    for i in range(15):
        conv = await new_conversation(stores, f"s-claim-{i}")
        await stores.handoffs.request(conv.id, "customer_request", "human_agent", None)
        results = await asyncio.gather(
            stores.handoffs.claim(conv.id, alice.id), stores.handoffs.claim(conv.id, bob.id)
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1, results
        after = await stores.conversations.get(conv.id)
        assert after is not None and after.state == "agent"
        assert after.assigned_agent_id == winners[0].agent_id


async def test_state_machine_round_trip(stores: Stores) -> None:
    service, bus = make_service(stores)
    bus.start()
    alice, bob = make_agent(stores, "alice"), make_agent(stores, "bob")
    conv = await new_conversation(stores, "s-flow")

    told = await service.request(conv, HandoffSignal("complaint", "complain", "DD202611010001"))
    assert "第 1 位" in told[0].text and told[0].buttons[0]["payload"] == "/handoff_cancel"
    status = await service.status(conv.id)
    assert status is not None and status.position == 1 and status.expected_wait_minutes == 3

    # Asking again while queued keeps the one request.
    await service.request(conv, HandoffSignal("customer_request"))
    assert len(await stores.handoffs.queue()) == 1

    await service.claim(conv.id, alice)
    with pytest.raises(Conflict):
        await service.claim(conv.id, bob)
    with pytest.raises(Conflict):
        await service.reply(conv.id, bob, "我来帮您")
    reply = await service.reply(conv.id, alice, "您好，我是王芳")
    assert reply.agent_name == "Alice"

    with pytest.raises(Conflict):
        await service.transfer(conv.id, bob, alice)  # bob does not hold it
    await service.transfer(conv.id, alice, bob)
    moved = await stores.conversations.get(conv.id)
    assert moved is not None and moved.assigned_agent_id == bob.id

    with pytest.raises(Conflict):
        await service.resolve(conv.id, alice)  # no longer hers
    resolved = await service.resolve(conv.id, bob)
    assert resolved.reason == "complaint" and resolved.order_id == "DD202611010001"
    after = await stores.conversations.get(conv.id)
    assert after is not None and after.state == "resolved" and after.assigned_agent_id is None

    assert await stores.handoffs.reopen(conv.id)
    reopened = await stores.conversations.get(conv.id)
    assert reopened is not None and reopened.state == "bot" and reopened.contact_seq == 2
    authors = [m.author for m in await stores.conversations.transcript(conv.id)]
    assert authors == ["system", "agent", "system", "system"]  # joined, reply, moved, ended
    await bus.stop()


async def test_cancel_and_supervisor_resolve(stores: Stores) -> None:
    service, bus = make_service(stores)
    bus.start()
    boss = make_agent(stores, "boss", "supervisor")
    agent = make_agent(stores, "agent")
    conv = await new_conversation(stores, "s-cancel", "en")
    await service.request(conv, HandoffSignal("fallback"))
    cancelled = await service.cancel(conv)
    assert "cancelled" in cancelled[0].text
    again = await service.cancel(conv)
    assert "not waiting" in again[0].text

    await service.request(conv, HandoffSignal("fallback"))
    with pytest.raises(Conflict):
        await service.resolve(conv.id, agent)  # agents resolve only what they hold
    await service.resolve(conv.id, boss)  # supervisors may close a queued one
    after = await stores.conversations.get(conv.id)
    assert after is not None and after.state == "resolved"
    await bus.stop()


async def test_queue_is_ordered_by_waiting_time(stores: Stores) -> None:
    service, bus = make_service(stores)
    bus.start()
    ids = await queue_up(stores, service, "s-order", 3)
    queue = await stores.handoffs.queue()
    assert [e.conversation.id for e in queue] == ids
    assert [e.position for e in queue] == [1, 2, 3]
    third = await service.status(ids[2])
    assert third is not None and third.position == 3 and third.expected_wait_minutes == 9
    await bus.stop()


async def test_queue_frames_equal_each_waiting_customers_own_frame(stores: Stores) -> None:
    """The one-read push of queue positions says what `describe` says per customer."""
    service, bus = make_service(stores)
    bus.start()
    ids = await queue_up(stores, service, "s-frames", 4)
    await service.cancel(await stores.conversations.get(ids[1]))
    frames = await service.queue_frames()
    assert [conversation_id for conversation_id, _ in frames] == [ids[0], ids[2], ids[3]]
    for conversation_id, frame in frames:
        assert frame == await service.describe(conversation_id)
    assert frames[-1][1]["queue"] == {"position": 3, "queue_length": 3, "expected_wait_minutes": 9}
    await bus.stop()


async def test_outside_service_hours_a_ticket_is_opened(stores: Stores) -> None:
    night = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)  # 23:00 in Beijing
    service, bus = make_service(stores, ServiceHours.parse("09:00-21:00", "+08:00"), night)
    bus.start()
    agent = make_agent(stores, "morning")
    conv = await new_conversation(stores, "s-night")
    told = await service.request(conv, HandoffSignal("customer_request"))
    assert "09:00-21:00" in told[0].text
    waiting = await stores.conversations.get(conv.id)
    assert waiting is not None and waiting.state == "bot" and waiting.awaiting_ticket
    assert await stores.handoffs.queue() == []

    message = await receive(stores, conv, "耳机坏了", "t1")
    assert message.message is not None
    ticket_id = await stores.handoffs.fill_ticket(conv.id, message.message.id)
    tickets = await stores.handoffs.tickets()
    assert [t.id for t in tickets] == [ticket_id] and tickets[0].text == "耳机坏了"

    taken = await service.take_ticket(ticket_id or 0, agent)
    assert taken == conv.id
    with pytest.raises(Conflict):
        await service.take_ticket(ticket_id or 0, agent)
    held = await stores.conversations.get(conv.id)
    assert held is not None and held.state == "agent" and held.assigned_agent_id == agent.id
    await bus.stop()


async def test_sessions_expire_and_end(stores: Stores) -> None:
    agent = make_agent(stores, "sessions")
    past = datetime(2020, 1, 1, tzinfo=timezone.utc)
    future = datetime(2099, 1, 1, tzinfo=timezone.utc)
    await stores.agents.start_session(agent.id, "old", past)
    await stores.agents.start_session(agent.id, "new", future)
    assert await stores.agents.session_agent("old") is None
    found = await stores.agents.session_agent("new")
    assert found is not None and found.id == agent.id
    await stores.agents.end_session("new")
    assert await stores.agents.session_agent("new") is None
