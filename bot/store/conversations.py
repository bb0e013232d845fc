"""Conversations and their transcripts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Agent, Conversation, Message, utcnow
from bot.store.records import ConversationRecord, MessageRecord
from bot.store.rows import insert_ids, new_row, write_changes


@dataclass(frozen=True)
class NewMessage:
    """A bot, agent or system message about to be stored."""

    author: str
    text: str
    buttons: Sequence[dict[str, str]] = ()
    custom: dict[str, Any] | None = None
    agent_id: int | None = None


@dataclass(frozen=True)
class Received:
    """Result of storing a customer message (:meth:`ConversationStore.receive`).

    ``message`` is None when nothing was stored: the conversation has another id than
    the caller expected (it holds the wrong lock), or it belongs to another customer.
    """

    conversation: ConversationRecord
    message: MessageRecord | None
    created: bool = False
    duplicate: bool = False


@dataclass(frozen=True)
class Answered:
    """Result of storing the answer to a customer message (:meth:`ConversationStore.answer`)."""

    conversation: ConversationRecord
    replies: list[MessageRecord]


# Extra work a caller runs inside a store transaction (the contact bookkeeping of a turn).
SessionWork = Callable[[Session], None]


def new_conversation_id() -> str:
    """A fresh conversation id (also the key of its lock before the row exists)."""
    return uuid.uuid4().hex


# The message path's statements, built once: a reused statement object memoizes its
# cache key, so each call only binds parameters (see bot/store/rows.py). They run on the
# session's connection, bypassing the ORM. An UPDATE without ``.values()`` sets the
# columns named in the parameters (each set of names is compiled once, then cached).
_conversations: Table = Conversation.__table__  # type: ignore[assignment]
_messages: Table = Message.__table__  # type: ignore[assignment]
_agents: Table = Agent.__table__  # type: ignore[assignment]

_CONVERSATION_KEYS = tuple(_conversations.c.keys())
_DUPLICATE_KEYS = tuple((key, f"dup_{key}") for key in _messages.c.keys())

_CONVERSATION_BY_ID = select(_conversations).where(_conversations.c.id == bindparam("id"))
# The conversation of a sender and, in the same statement, its message with the
# client's id (``dup_`` columns, NULL if none: never for a NULL id).
_CONVERSATION_BY_SENDER = (
    select(_conversations, *(_messages.c[key].label(dup) for key, dup in _DUPLICATE_KEYS))
    .select_from(
        _conversations.outerjoin(
            _messages,
            and_(
                _messages.c.conversation_id == _conversations.c.id,
                _messages.c.client_message_id == bindparam("client_message_id"),
            ),
        )
    )
    .where(
        _conversations.c.channel == bindparam("channel"),
        _conversations.c.sender == bindparam("sender"),
    )
)
_INSERT_CONVERSATION = insert(_conversations)
_UPDATE_CONVERSATION = update(_conversations).where(_conversations.c.id == bindparam("b_id"))
# PostgreSQL: move the conversation's last message time and read its row in one statement.
_TOUCH_RETURNING = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("b_id"))
    .values(last_message_at=bindparam("b_at"))
    .returning(*_conversations.c)
)
# ``return_defaults`` of the key: one INSERT for several rows where the driver returns
# their keys (see ``insert_ids``).
_INSERT_MESSAGE = insert(_messages).return_defaults(_messages.c.id)
_MARK_PROCESSED = (
    update(_messages).where(_messages.c.id == bindparam("b_id")).values(processed=True)
)
_AGENT_NAMES = select(_agents.c.id, _agents.c.display_name).where(
    _agents.c.id.in_(bindparam("ids", expanding=True))
)


def read_conversation(conn: Connection, conversation_id: str) -> dict[str, Any] | None:
    """The conversation's row (all columns by name), or None."""
    row = conn.execute(_CONVERSATION_BY_ID, {"id": conversation_id}).first()
    return dict(row._mapping) if row is not None else None


def _touch(conn: Connection, conversation_id: str, at: datetime) -> dict[str, Any] | None:
    """Set the conversation's ``last_message_at`` (messages are stored in it now) and
    return its row as it is then; None if there is no such conversation.

    One ``UPDATE .. RETURNING`` on PostgreSQL (SQLAlchemy 1.4 builds it for no other of
    our dialects), a read and an update elsewhere.
    """
    if conn.dialect.name == "postgresql":
        row = conn.execute(_TOUCH_RETURNING, {"b_id": conversation_id, "b_at": at}).first()
        return dict(row._mapping) if row is not None else None
    conv = read_conversation(conn, conversation_id)
    if conv is not None:
        write_changes(conn, _UPDATE_CONVERSATION, conv, {"last_message_at": at})
    return conv


class _Opened(NamedTuple):
    """A conversation as ``_find_or_create`` found or created it."""

    row: dict[str, Any]  # all columns by name
    created: bool
    changes: dict[str, Any]  # still to write (with any of the caller's: one UPDATE)
    duplicate: MessageRecord | None  # its message with the caller's client message id


def _find_or_create(
    conn: Connection,
    channel: str,
    sender: str,
    customer_id: str | None,
    language: str | None,
    new_id: str,
    client_message_id: str | None = None,
) -> _Opened:
    """The conversation of ``(channel, sender)``, created with ``new_id`` if missing,
    and its message with ``client_message_id`` if it has one.

    The first verified customer id is remembered (a different one later is not written
    over it: the caller decides what to do), as is the latest language.
    """
    found = conn.execute(
        _CONVERSATION_BY_SENDER,
        # An empty id de-duplicates nothing (as NULL).
        {"channel": channel, "sender": sender, "client_message_id": client_message_id or None},
    ).first()
    if found is None:
        now = utcnow()
        row = new_row(
            _conversations,
            {
                "id": new_id,
                "channel": channel,
                "sender": sender,
                "customer_id": customer_id,
                "language": language,
                "state": "bot",
                "created_at": now,
                "updated_at": now,
                "last_message_at": now,
            },
        )
        conn.execute(_INSERT_CONVERSATION, row)
        return _Opened(row, True, {}, None)
    joined = found._mapping
    row = {key: joined[key] for key in _CONVERSATION_KEYS}
    duplicate = None
    if joined["dup_id"] is not None:
        duplicate = MessageRecord.from_row({key: joined[dup] for key, dup in _DUPLICATE_KEYS})
    changes: dict[str, Any] = {}
    if customer_id and not row["customer_id"]:
        changes["customer_id"] = customer_id
    if language:
        changes["language"] = language
    changes["updated_at"] = utcnow()
    return _Opened(row, False, changes, duplicate)


def _message_row(conversation_id: str, contact_seq: int, **values: Any) -> dict[str, Any]:
    return new_row(
        _messages, {"conversation_id": conversation_id, "contact_seq": contact_seq, **values}
    )


def _insert_messages(
    conn: Connection,
    conv: dict[str, Any] | None,
    conversation_id: str,
    messages: Sequence[NewMessage],
    reply_to_id: int | None,
    now: datetime,
) -> list[MessageRecord]:
    """Insert ``messages`` in order (the conversation was touched at ``now`` first, as
    the ORM's flush wrote the parent row first).

    Returns:
        Their records, without agent names (see ``_with_names``).
    """
    rows = [
        _message_row(
            conversation_id,
            conv["contact_seq"] if conv else 1,
            author=m.author,
            text=m.text,
            buttons_json=json.dumps(list(m.buttons), ensure_ascii=False) if m.buttons else None,
            custom_json=json.dumps(m.custom, ensure_ascii=False) if m.custom else None,
            agent_id=m.agent_id,
            reply_to_id=reply_to_id,
            created_at=now,
        )
        for m in messages
    ]
    ids = insert_ids(conn, _INSERT_MESSAGE, rows)
    return [MessageRecord.from_row({**row, "id": id_}) for row, id_ in zip(rows, ids, strict=True)]


def _mark_processed(conn: Connection, message_id: int) -> None:
    conn.execute(_MARK_PROCESSED, {"b_id": message_id})


def _with_names(conn: Connection, records: Iterable[MessageRecord]) -> list[MessageRecord]:
    """The records with their agents' display names (one query, only if agents wrote)."""
    records = list(records)
    ids = {r.agent_id for r in records if r.agent_id is not None}
    if not ids:
        return records
    names = {agent_id: name for agent_id, name in conn.execute(_AGENT_NAMES, {"ids": sorted(ids)})}
    return [
        replace(r, agent_name=names.get(r.agent_id)) if r.agent_id is not None else r
        for r in records
    ]


class ConversationStore:
    """Reads and writes conversations and messages; each call is one transaction."""

    def __init__(self, db: Database) -> None:
        """Keep the database.

        Args:
            db: The gateway database.
        """
        self._db = db

    async def open(
        self, channel: str, sender: str, customer_id: str | None, language: str | None
    ) -> tuple[ConversationRecord, bool]:
        """Return the conversation of ``(channel, sender)``, creating it if needed.

        The first verified customer id is remembered on it (a different one later is
        not written over it: the caller decides what to do), as is the language.

        Args:
            channel: Channel name.
            sender: The channel's stable id for this customer thread.
            customer_id: Verified customer id of this message, if any.
            language: Language of this message, if known.

        Returns:
            The conversation and whether this call created it.
        """

        def work(session: Session) -> tuple[ConversationRecord, bool]:
            conn = session.connection()
            row, created, changes, _ = _find_or_create(
                conn, channel, sender, customer_id, language, new_conversation_id()
            )
            write_changes(conn, _UPDATE_CONVERSATION, row, changes)
            return ConversationRecord.from_row(row), created

        try:
            return await self._db.run(work)
        except IntegrityError:
            # Two first messages raced to create the row: the other one won.
            return await self._db.run(work)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        """Return one conversation or None."""

        def work(session: Session) -> ConversationRecord | None:
            row = read_conversation(session.connection(), conversation_id)
            return ConversationRecord.from_row(row) if row else None

        return await self._db.run(work)

    async def find(self, channel: str, sender: str) -> ConversationRecord | None:
        """Return the conversation of ``(channel, sender)`` or None."""

        def work(session: Session) -> ConversationRecord | None:
            row = session.execute(
                select(Conversation).where(
                    Conversation.channel == channel, Conversation.sender == sender
                )
            ).scalar_one_or_none()
            return ConversationRecord.of(row) if row else None

        return await self._db.run(work)

    async def receive(
        self,
        conversation_id: str,
        channel: str,
        sender: str,
        text: str,
        client_message_id: str | None,
        customer_id: str | None,
        language: str | None,
    ) -> Received:
        """Find or start the conversation of ``(channel, sender)`` and store a customer
        message in it, once per ``client_message_id``: one transaction.

        Args:
            conversation_id: The id the caller expects (and holds the lock of); a new
                conversation is created with it.
            channel: Channel name.
            sender: The channel's stable id for this customer thread.
            text: Message text.
            client_message_id: The client's id for de-duplication, if any.
            customer_id: Verified customer id of this message, if any.
            language: Language of this message, if known.

        Returns:
            The conversation (as it is after the message) and the stored or previously
            stored message; no message when the conversation has another id or belongs
            to another customer (see :class:`Received`).
        """

        def work(session: Session) -> Received:
            conn = session.connection()
            row, created, changes, found = _find_or_create(
                conn, channel, sender, customer_id, language, conversation_id, client_message_id
            )
            # The conversation's changes are written once, with the message's time if one
            # is stored (a new row's is its creation time: no UPDATE at all).
            if row["id"] != conversation_id or ConversationRecord.from_row(
                {**row, **changes}
            ).belongs_to_another(customer_id):
                write_changes(conn, _UPDATE_CONVERSATION, row, changes)
                return Received(ConversationRecord.from_row(row), None)
            if found is not None:
                write_changes(conn, _UPDATE_CONVERSATION, row, changes)
                return Received(ConversationRecord.from_row(row), found, duplicate=True)
            message = _message_row(
                row["id"],
                row["contact_seq"],
                author="customer",
                text=text,
                client_message_id=client_message_id,
                customer_id=customer_id,
                processed=False,
                created_at=utcnow(),
            )
            if not created:
                changes["last_message_at"] = message["created_at"]
                write_changes(conn, _UPDATE_CONVERSATION, row, changes)
            (message_id,) = insert_ids(conn, _INSERT_MESSAGE, [message])
            return Received(
                ConversationRecord.from_row(row),
                MessageRecord.from_row({**message, "id": message_id}),
                created,
            )

        try:
            return await self._db.run(work)
        except IntegrityError:
            # Raced with the same client message id or with the creation of the same
            # conversation (another instance): the retry sees the winner's row.
            return await self._db.run(work)

    async def add_messages(
        self,
        conversation_id: str,
        messages: Sequence[NewMessage],
        reply_to_id: int | None = None,
    ) -> list[MessageRecord]:
        """Store bot, agent or system messages in order.

        Args:
            conversation_id: The conversation.
            messages: What to store.
            reply_to_id: The customer message these answer, if any; it is marked
                processed in the same transaction (its answer is complete).

        Returns:
            The stored messages.
        """

        def work(session: Session) -> list[MessageRecord]:
            conn = session.connection()
            now = utcnow()
            conv = _touch(conn, conversation_id, now)
            records = _insert_messages(conn, conv, conversation_id, messages, reply_to_id, now)
            if reply_to_id is not None:
                _mark_processed(conn, reply_to_id)
            return _with_names(conn, records)

        if not messages:
            return []
        return await self._db.run(work)

    async def answer(
        self,
        message_id: int,
        conversation_id: str,
        replies: Sequence[NewMessage],
        also: SessionWork | None = None,
    ) -> Answered:
        """Store the answer to a customer message (possibly no message at all), mark it
        processed and run ``also``, all in one transaction.

        Args:
            message_id: The customer message answered.
            conversation_id: Its conversation.
            replies: What to store, in order.
            also: More work for the same transaction (the turn's contact bookkeeping).

        Returns:
            The conversation as it is then (its state after any handoff) and the replies.
        """

        def work(session: Session) -> Answered:
            conn = session.connection()
            now = utcnow()
            conv = (
                _touch(conn, conversation_id, now)
                if replies
                else read_conversation(conn, conversation_id)
            )
            assert conv is not None
            records = _insert_messages(conn, conv, conversation_id, replies, message_id, now)
            _mark_processed(conn, message_id)
            if also is not None:
                also(session)
            return Answered(ConversationRecord.from_row(conv), _with_names(conn, records))

        try:
            return await self._db.run(work)
        except IntegrityError:
            # ``also`` created the contact row at the moment the contact listener did (a
            # conversation's first message): nothing was stored, the retry finds that row.
            return await self._db.run(work)

    async def mark_processed(self, message_id: int) -> None:
        """Record that a customer message has been fully handled."""
        await self._db.run(lambda session: _mark_processed(session.connection(), message_id))

    async def replies_to(self, message_id: int) -> tuple[bool, list[MessageRecord]]:
        """Return whether a customer message was handled, and the replies to it."""

        def work(session: Session) -> tuple[bool, list[MessageRecord]]:
            original = session.get(Message, message_id)
            rows = session.execute(
                select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
            ).scalars()
            records = [MessageRecord.of(r) for r in rows]
            return bool(original and original.processed), _with_names(session.connection(), records)

        return await self._db.run(work)

    async def transcript(
        self, conversation_id: str, after_id: int = 0, limit: int = 500
    ) -> list[MessageRecord]:
        """Return messages with an id above ``after_id``, oldest first.

        Args:
            conversation_id: The conversation.
            after_id: Last id the caller already has (0 for everything).
            limit: Most messages to return (the newest ones are kept).

        Returns:
            The messages in order.
        """

        def work(session: Session) -> list[MessageRecord]:
            rows = session.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).scalars()
            records = [MessageRecord.of(r) for r in rows]
            return list(reversed(_with_names(session.connection(), records)))

        return await self._db.run_in_thread(work)
