"""Posting messages: store them, then announce them (which delivers them live)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from bot import events
from bot.events import Event, EventBus
from bot.store.conversations import Answered, ConversationStore, NewMessage, SessionWork
from bot.store.records import MessageRecord


class Transcript:
    """The one way bot, agent and system messages enter a conversation."""

    def __init__(self, store: ConversationStore, bus: EventBus) -> None:
        """Keep the store and the bus.

        Args:
            store: Conversation store.
            bus: Event bus (``message.sent`` is published for each message).
        """
        self._store = store
        self._bus = bus

    async def post(
        self,
        conversation_id: str,
        messages: Sequence[NewMessage],
        reply_to_id: int | None = None,
    ) -> list[MessageRecord]:
        """Store messages and publish ``message.sent`` for each.

        Args:
            conversation_id: The conversation.
            messages: What to post, in order.
            reply_to_id: The customer message they answer, if any.

        Returns:
            The stored messages.
        """
        records = await self._store.add_messages(conversation_id, messages, reply_to_id)
        for record in records:
            await self.announce(record)
        return records

    async def answer(
        self,
        message: MessageRecord,
        replies: Sequence[NewMessage],
        also: SessionWork | None = None,
    ) -> Answered:
        """Store the answer to a customer message (one transaction), then publish
        ``message.sent`` for each reply.

        Args:
            message: The customer message answered (marked processed with it).
            replies: What to post, in order (possibly nothing).
            also: More work for the same transaction (the turn's contact bookkeeping).

        Returns:
            The conversation as it is after the answer, and the stored replies.
        """
        answered = await self._store.answer(message.id, message.conversation_id, replies, also)
        for record in answered.replies:
            await self.announce(record)
        return answered

    async def announce(self, record: MessageRecord) -> None:
        """Publish ``message.sent`` for an already stored message."""
        await self._bus.publish(
            Event(events.MESSAGE_SENT, record.conversation_id, {"message": record})
        )


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        """Start with no locks."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of ``key`` for the body of the ``async with``."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]
