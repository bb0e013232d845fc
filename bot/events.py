"""Named gateway events and the in-process bus that routes them.

Listeners registered ``inline`` (only live WebSocket pushes) run before ``publish``
returns; every other listener runs later from a queue, so slow work (reporting, CSAT)
never delays a reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store.models import utcnow

logger = logging.getLogger(__name__)

CONVERSATION_STARTED = "conversation.started"
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
BOT_FAILED = "bot.failed"
HANDOFF_REQUESTED = "handoff.requested"
HANDOFF_CANCELLED = "handoff.cancelled"
AGENT_ASSIGNED = "agent.assigned"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_REOPENED = "conversation.reopened"
TICKET_CREATED = "ticket.created"
QUEUE_CHANGED = "queue.changed"
# Contacts and satisfaction (bot/metrics): a bot turn with the intent Rasa read, the
# end of a contact (with its outcome), and the rating survey's life.
BOT_REPLIED = "bot.replied"
CONTACT_RESOLVED = "contact.resolved"
CSAT_SENT = "csat.sent"
CSAT_SUBMITTED = "csat.submitted"
CSAT_DUPLICATE = "csat.duplicate"
CSAT_INVALID = "csat.invalid"
CSAT_DROPPED = "csat.dropped"
CSAT_COMMENTED = "csat.commented"

ALL_EVENTS = (
    CONVERSATION_STARTED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    BOT_FAILED,
    HANDOFF_REQUESTED,
    HANDOFF_CANCELLED,
    AGENT_ASSIGNED,
    CONVERSATION_TRANSFERRED,
    CONVERSATION_RESOLVED,
    CONVERSATION_REOPENED,
    TICKET_CREATED,
    QUEUE_CHANGED,
    BOT_REPLIED,
    CONTACT_RESOLVED,
    CSAT_SENT,
    CSAT_SUBMITTED,
    CSAT_DUPLICATE,
    CSAT_INVALID,
    CSAT_DROPPED,
    CSAT_COMMENTED,
)


@dataclass(frozen=True)
class Event:
    """Something that happened to a conversation.

    Attributes:
        name: One of the constants above.
        conversation_id: The conversation concerned ("" for queue-wide events).
        data: Event-specific fields (ids, states, reasons; never message bodies
            except in message events, whose listeners deliver them).
        at: When it happened.
    """

    name: str
    conversation_id: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)


Listener = Callable[[Event], Awaitable[None]]


class EventBus:
    """Routes each event to its listeners; queued listeners run in one worker task."""

    def __init__(self) -> None:
        """Create an empty bus (call :meth:`start` inside the running loop)."""
        self._inline: dict[str, list[Listener]] = {}
        self._queued: dict[str, list[Listener]] = {}
        self._queue: asyncio.Queue[tuple[Listener, Event]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def subscribe(self, name: str, listener: Listener, *, inline: bool = False) -> None:
        """Register a listener for one event name.

        Args:
            name: Event name (must be declared in this module).
            listener: Coroutine function taking the event.
            inline: Run before ``publish`` returns (live pushes only).
        """
        if name not in ALL_EVENTS:
            raise ValueError(f"unknown event {name!r}")
        target = self._inline if inline else self._queued
        target.setdefault(name, []).append(listener)

    def start(self) -> None:
        """Start the worker that runs queued listeners."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Run what is still queued, then stop the worker."""
        if self._queue is not None and self._worker is not None:
            await self._queue.join()
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        self._worker = None

    async def join(self) -> None:
        """Wait until every queued listener published so far has run."""
        if self._queue is not None:
            await self._queue.join()

    async def publish(self, event: Event) -> None:
        """Deliver an event: inline listeners now, the others through the queue."""
        for listener in self._inline.get(event.name, []):
            try:
                await listener(event)
            except Exception:  # noqa: BLE001 - one listener must not stop the others
                logger.exception("inline listener failed for %s", event.name)
        for listener in self._queued.get(event.name, []):
            if self._queue is None:
                logger.warning("event bus not started; dropping %s", event.name)
                break
            self._queue.put_nowait((listener, event))

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            listener, event = await self._queue.get()
            try:
                await listener(event)
            except Exception:  # noqa: BLE001
                logger.exception("queued listener failed for %s", event.name)
            finally:
                self._queue.task_done()
