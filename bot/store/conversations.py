"""Conversations and their transcripts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Agent, Conversation, Message, utcnow
from bot.store.records import ConversationRecord, MessageRecord


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


def _find_or_create(
    session: Session,
    channel: str,
    sender: str,
    customer_id: str | None,
    language: str | None,
    new_id: str,
) -> tuple[Conversation, bool]:
    """The conversation of ``(channel, sender)``, created with ``new_id`` if missing.

    The first verified customer id is remembered (a different one later is not written
    over it: the caller decides what to do), as is the latest language.
    """
    row = session.execute(
        select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
    ).scalar_one_or_none()
    if row is None:
        row = Conversation(
            id=new_id,
            channel=channel,
            sender=sender,
            customer_id=customer_id,
            language=language,
            state="bot",
        )
        session.add(row)
        session.flush()
        return row, True
    if customer_id and not row.customer_id:
        row.customer_id = customer_id
    if language:
        row.language = language
    row.updated_at = utcnow()
    return row, False


def _client_message(
    session: Session, conversation_id: str, client_message_id: str | None
) -> Message | None:
    if not client_message_id:
        return None
    return session.execute(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.client_message_id == client_message_id,
        )
    ).scalar_one_or_none()


def _insert_messages(
    session: Session,
    conv: Conversation | None,
    conversation_id: str,
    messages: Sequence[NewMessage],
    reply_to_id: int | None,
) -> list[Message]:
    now = utcnow()
    rows = [
        Message(
            conversation_id=conversation_id,
            author=m.author,
            text=m.text,
            buttons_json=json.dumps(list(m.buttons), ensure_ascii=False) if m.buttons else None,
            custom_json=json.dumps(m.custom, ensure_ascii=False) if m.custom else None,
            agent_id=m.agent_id,
            reply_to_id=reply_to_id,
            contact_seq=conv.contact_seq if conv else 1,
            created_at=now,
        )
        for m in messages
    ]
    session.add_all(rows)
    if conv is not None and rows:
        conv.last_message_at = now
    return rows


def _mark_processed(session: Session, message_id: int) -> None:
    # No ORM object of the customer message lives in these sessions: skip the default
    # "evaluate" synchronisation (~8% of a gateway's CPU samples under load).
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(processed=True)
        .execution_options(synchronize_session=False)
    )


def _with_names(session: Session, rows: Iterable[Message]) -> list[MessageRecord]:
    rows = list(rows)
    ids = {r.agent_id for r in rows if r.agent_id is not None}
    names: dict[int, str] = {}
    if ids:
        for agent_id, name in session.execute(
            select(Agent.id, Agent.display_name).where(Agent.id.in_(ids))
        ):
            names[agent_id] = name
    return [MessageRecord.of(r, names.get(r.agent_id) if r.agent_id else None) for r in rows]


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
            row, created = _find_or_create(
                session, channel, sender, customer_id, language, new_conversation_id()
            )
            session.flush()
            return ConversationRecord.of(row), created

        try:
            return await self._db.run(work)
        except IntegrityError:
            # Two first messages raced to create the row: the other one won.
            return await self._db.run(work)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        """Return one conversation or None."""

        def work(session: Session) -> ConversationRecord | None:
            row = session.get(Conversation, conversation_id)
            return ConversationRecord.of(row) if row else None

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
            row, created = _find_or_create(
                session, channel, sender, customer_id, language, conversation_id
            )
            if row.id != conversation_id or ConversationRecord.of(row).belongs_to_another(
                customer_id
            ):
                session.flush()
                return Received(ConversationRecord.of(row), None)
            with session.no_autoflush:  # one UPDATE of the conversation, not one per step
                found = None if created else _client_message(session, row.id, client_message_id)
            if found is not None:
                session.flush()
                return Received(ConversationRecord.of(row), MessageRecord.of(found), duplicate=True)
            message = Message(
                conversation_id=row.id,
                author="customer",
                text=text,
                client_message_id=client_message_id,
                customer_id=customer_id,
                processed=False,
                contact_seq=row.contact_seq,
                created_at=utcnow(),
            )
            session.add(message)
            if not created:  # a new row's is its creation time (no second UPDATE)
                row.last_message_at = message.created_at
            session.flush()
            return Received(ConversationRecord.of(row), MessageRecord.of(message), created)

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
            conv = session.get(Conversation, conversation_id)
            rows = _insert_messages(session, conv, conversation_id, messages, reply_to_id)
            if reply_to_id is not None:
                _mark_processed(session, reply_to_id)
            session.flush()
            return _with_names(session, rows)

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
            conv = session.get(Conversation, conversation_id)
            assert conv is not None
            rows = _insert_messages(session, conv, conversation_id, replies, message_id)
            _mark_processed(session, message_id)
            if also is not None:
                also(session)
            session.flush()
            return Answered(ConversationRecord.of(conv), _with_names(session, rows))

        try:
            return await self._db.run(work)
        except IntegrityError:
            # ``also`` created the contact row at the moment the contact listener did (a
            # conversation's first message): nothing was stored, the retry finds that row.
            return await self._db.run(work)

    async def mark_processed(self, message_id: int) -> None:
        """Record that a customer message has been fully handled."""
        await self._db.run(lambda session: _mark_processed(session, message_id))

    async def replies_to(self, message_id: int) -> tuple[bool, list[MessageRecord]]:
        """Return whether a customer message was handled, and the replies to it."""

        def work(session: Session) -> tuple[bool, list[MessageRecord]]:
            original = session.get(Message, message_id)
            rows = session.execute(
                select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
            ).scalars()
            return bool(original and original.processed), _with_names(session, rows)

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
            return list(reversed(_with_names(session, rows)))

        return await self._db.run(work)
