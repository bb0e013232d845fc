"""The message path's Core statements give what the ORM would, over a real database.

``receive``, ``answer`` and the turn's contact bookkeeping build their records from Core
rows and from the values they wrote (bot/store/rows.py); the cold paths still read
through the ORM. Each check here compares the two for the same rows. The scenarios take
a database URL: SQLite here, PostgreSQL in tests/production/test_store_rows_pg.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select

import bot.metrics.models  # noqa: F401  (the contacts table)
from bot.inbox.passwords import hash_password
from bot.metrics.models import Contact
from bot.metrics.records import ContactRecord
from bot.metrics.store import ContactStore, note_turn
from bot.store import Stores
from bot.store.conversations import NewMessage, new_conversation_id
from bot.store.models import Conversation, Message, utcnow
from bot.store.records import ConversationRecord, MessageRecord

T = TypeVar("T")

@contextmanager
def statements_run(stores: Stores) -> Iterator[list[str]]:
    """The statements run meanwhile (upper case, on one line)."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.upper().split()))

    event.listen(stores.db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(stores.db.engine, "before_cursor_execute", listen)


async def core_records_match_orm(stores: Stores) -> None:
    """A conversation's life on the message path, each result compared with the ORM's."""
    contacts = ContactStore(stores.db)
    tag = uuid.uuid4().hex[:8]
    agent = stores.agents.create_sync(f"agent-{tag}", "王芳", "agent", hash_password("pw-123456"))
    conv_id, sender = new_conversation_id(), f"rows-{tag}"
    receive = stores.conversations.receive

    first = await receive(conv_id, "web", sender, "你好", "c1", None, "zh")
    assert first.created and first.message is not None
    assert first.conversation.last_message_at == first.conversation.created_at
    opened = await contacts.open(conv_id, utcnow(), first.conversation)
    assert opened is not None and opened.customer_key == f"web:{sender}"

    later = await receive(conv_id, "web", sender, "我有多少积分", "c2", "C1001", "en")
    assert not later.created and later.message is not None
    assert (later.conversation.customer_id, later.conversation.language) == ("C1001", "en")
    assert later.conversation.last_message_at == later.message.created_at
    repeat = await receive(conv_id, "web", sender, "我有多少积分", "c2", "C1001", None)
    assert repeat.duplicate and repeat.message == later.message
    other = await receive(conv_id, "web", sender, "hi", "c3", "C2002", None)
    assert other.message is None and other.conversation.customer_id == "C1001"

    replies = [
        NewMessage(
            author="bot",
            text="您有 1200 积分",
            buttons=[{"title": "兑换", "payload": "/redeem"}],
            custom={"image": "https://shop.example/p.png"},
        ),
        NewMessage(author="agent", text="我来帮您", agent_id=agent.id),
        NewMessage(author="system", text="已转人工"),
    ]
    turn: dict[str, ContactRecord | None] = {}
    with statements_run(stores) as run:
        answered = await stores.conversations.answer(
            later.message.id,
            conv_id,
            replies,
            lambda session: turn.update(
                contact=note_turn(session, conv_id, "ask_points", True, utcnow())
            ),
        )
    # Several rows are one INSERT where the driver returns their keys (psycopg2), and the
    # conversation is read by the UPDATE that moves its last message time (PostgreSQL).
    postgres = stores.db.engine.dialect.name == "postgresql"
    multi = stores.db.engine.dialect.insert_executemany_returning
    assert len([s for s in run if s.startswith("INSERT INTO MESSAGES")]) == (
        1 if multi else len(replies)
    )
    reads = [s for s in run if s.startswith("SELECT") and "FROM CONVERSATIONS WHERE" in s]
    returning = [s for s in run if s.startswith("UPDATE CONVERSATIONS") and "RETURNING" in s]
    assert (len(reads), len(returning)) == ((0, 1) if postgres else (1, 0))
    assert [r.text for r in answered.replies] == [r.text for r in replies]
    assert answered.replies[1].agent_name == "王芳"
    assert answered.conversation.last_message_at == answered.replies[0].created_at

    # The ORM's reads of the same rows (cold paths: get, transcript, replies_to).
    assert await stores.conversations.get(conv_id) == answered.conversation
    transcript = await stores.conversations.transcript(conv_id)
    assert transcript[0] == first.message
    assert transcript[1] == replace(later.message, processed=True)  # answered since
    assert transcript[2:] == answered.replies
    processed, stored_replies = await stores.conversations.replies_to(later.message.id)
    assert processed and stored_replies == answered.replies
    contact = turn["contact"]
    assert contact is not None and contact.bot_turns == 1 and contact.in_form
    assert contact.intents == ("ask_points",) and contact.customer_key == f"web:{sender}"
    assert await contacts.get(contact.id) == contact
    assert opened == contact.with_(bot_turns=0, in_form=False, intents=(), topic=None)

    # ``from_row`` of a Core row equals ``of`` of the ORM object, for each table.
    def both(session: Any) -> None:
        conn = session.connection()
        for model, record, where in (
            (Conversation, ConversationRecord, Conversation.id == conv_id),
            (Message, MessageRecord, Message.conversation_id == conv_id),
            (Contact, ContactRecord, Contact.id == contact.id),
        ):
            rows = conn.execute(select(model.__table__).where(where)).all()
            assert rows
            for row in rows:
                assert record.from_row(row._mapping) == record.of(session.get(model, row.id))

    await stores.db.run(both)


async def apart(*calls: Coroutine[Any, Any, T]) -> list[T]:
    """Runs each call on its own event loop in its own thread, as separate gateway
    instances would (on one loop, PostgreSQL work runs on the loop one unit at a time)."""
    return list(await asyncio.gather(*(asyncio.to_thread(asyncio.run, c) for c in calls)))


async def races_are_retried(stores: Stores) -> None:
    """Concurrent first messages, repeats and contact creations store each row once."""
    contacts = ContactStore(stores.db)
    sender = f"race-{uuid.uuid4().hex[:8]}"
    ids = [new_conversation_id() for _ in range(6)]
    results = await apart(
        *[stores.conversations.receive(i, "web", sender, "你好", "same", None, "zh") for i in ids]
    )
    created = [r for r in results if r.created]
    assert len(created) == 1
    winner = created[0].conversation.id
    for expected_id, result in zip(ids, results, strict=True):
        assert result.conversation.id == winner
        # Lost the creation race: another id (the caller retries under the winner's lock).
        assert (result.message is None) == (expected_id != winner)

    repeats = await apart(
        *[
            stores.conversations.receive(winner, "web", sender, "在吗", "again", None, None)
            for _ in range(6)
        ]
    )
    assert sum(not r.duplicate for r in repeats) == 1
    assert len({r.message.id for r in repeats if r.message}) == 1

    message = repeats[0].message
    assert message is not None
    answered, opened = await apart(
        stores.conversations.answer(
            message.id,
            winner,
            [NewMessage(author="bot", text="在的")],
            lambda session: note_turn(session, winner, "greet", False, utcnow()),
        ),
        contacts.open(winner, utcnow()),
    )
    assert opened is not None
    current = await contacts.current(answered.conversation)
    assert current is not None and current.id == opened.id and current.bot_turns == 1


@pytest.fixture
async def sqlite_stores(tmp_path: Path) -> AsyncIterator[Stores]:
    stores = Stores.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    stores.db.create_schema()
    yield stores
    stores.db.dispose()


async def test_core_records_match_orm_on_sqlite(sqlite_stores: Stores) -> None:
    await core_records_match_orm(sqlite_stores)


async def test_races_are_retried_on_sqlite(sqlite_stores: Stores) -> None:
    await races_are_retried(sqlite_stores)
