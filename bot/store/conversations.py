"""Conversations and their transcripts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
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
class StoredInbound:
    """Result of storing a customer message: the record and whether it was a repeat."""

    message: MessageRecord
    duplicate: bool
    # The conversation as it was when the message was stored (saves a second read).
    conversation: ConversationRecord | None = None


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
            row = session.execute(
                select(Conversation).where(
                    Conversation.channel == channel, Conversation.sender == sender
                )
            ).scalar_one_or_none()
            created = row is None
            if row is None:
                row = Conversation(
                    id=uuid.uuid4().hex,
                    channel=channel,
                    sender=sender,
                    customer_id=customer_id,
                    language=language,
                    state="bot",
                )
                session.add(row)
            else:
                if customer_id and not row.customer_id:
                    row.customer_id = customer_id
                if language:
                    row.language = language
                row.updated_at = utcnow()
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

    async def add_customer_message(
        self,
        conversation_id: str,
        text: str,
        client_message_id: str | None,
        customer_id: str | None,
    ) -> StoredInbound:
        """Store a customer message once per ``client_message_id``.

        Args:
            conversation_id: The conversation.
            text: Message text.
            client_message_id: The client's id for de-duplication, if any.
            customer_id: Verified customer id at the time of the message.

        Returns:
            The stored (or previously stored) message and whether it was a repeat.
        """

        def existing(session: Session) -> Message | None:
            if not client_message_id:
                return None
            return session.execute(
                select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.client_message_id == client_message_id,
                )
            ).scalar_one_or_none()

        def work(session: Session) -> StoredInbound:
            found = existing(session)
            if found is not None:
                return StoredInbound(MessageRecord.of(found), duplicate=True)
            conv = session.get(Conversation, conversation_id)
            now = utcnow()
            row = Message(
                conversation_id=conversation_id,
                author="customer",
                text=text,
                client_message_id=client_message_id,
                customer_id=customer_id,
                processed=False,
                contact_seq=conv.contact_seq if conv else 1,
                created_at=now,
            )
            session.add(row)
            if conv is not None:
                conv.last_message_at = now
            session.flush()
            return StoredInbound(
                MessageRecord.of(row),
                duplicate=False,
                conversation=ConversationRecord.of(conv) if conv is not None else None,
            )

        def again(session: Session) -> StoredInbound:
            found = existing(session)
            assert found is not None
            return StoredInbound(MessageRecord.of(found), duplicate=True)

        try:
            return await self._db.run(work)
        except IntegrityError:
            return await self._db.run(again)

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
            now = utcnow()
            rows = [
                Message(
                    conversation_id=conversation_id,
                    author=m.author,
                    text=m.text,
                    buttons_json=json.dumps(list(m.buttons), ensure_ascii=False)
                    if m.buttons
                    else None,
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
            if reply_to_id is not None:
                session.execute(
                    update(Message).where(Message.id == reply_to_id).values(processed=True)
                )
            session.flush()
            return _with_names(session, rows)

        if not messages:
            return []
        return await self._db.run(work)

    async def mark_processed(self, message_id: int) -> None:
        """Record that a customer message has been fully handled."""

        def work(session: Session) -> None:
            session.execute(update(Message).where(Message.id == message_id).values(processed=True))

        await self._db.run(work)

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
