"""The contact lifecycle: opened with the conversation, annotated as it goes, closed.

A contact ends when an agent resolves it, when the bot resolves it (the customer says
thanks or goodbye after a served need, with no form left open), or when it goes quiet
(``CONTACT_INACTIVITY_MINUTES``): a quiet contact whose need was served is resolved by
the bot, any other is *abandoned*. The end is announced as ``contact.resolved`` with the
final snapshot, which the survey and the reporting listeners take from there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot import events
from bot.events import Event, EventBus
from bot.metrics import models
from bot.metrics.records import ContactRecord
from bot.metrics.settings import MetricsSettings
from bot.metrics.store import Closing, ContactStore
from bot.metrics.topics import CLOSING_INTENTS, FALLBACK_INTENT, is_need
from bot.store.models import utcnow
from bot.store.records import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

RESOLVED_BY_BOT = "bot"


class ContactService:
    """Keeps each conversation's current contact up to date and decides its end."""

    def __init__(
        self,
        *,
        contacts: ContactStore,
        bus: EventBus,
        settings: MetricsSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Wire the service.

        Args:
            contacts: The contact store.
            bus: Event bus (publishes ``conversation.resolved`` for the bot's own
                resolutions, and ``contact.resolved``).
            settings: Inactivity time.
            clock: Current time (tests pass their own).
        """
        self._contacts = contacts
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {
            events.CONVERSATION_STARTED: self._opened,
            events.CONVERSATION_REOPENED: self._opened,
            events.BOT_REPLIED: self._bot_turn,
            events.HANDOFF_REQUESTED: self._handoff,
            events.TICKET_CREATED: self._handoff,
            events.HANDOFF_CANCELLED: self._cancelled,
            events.AGENT_ASSIGNED: self._agent,
            events.CONVERSATION_TRANSFERRED: self._agent,
            events.MESSAGE_SENT: self._agent_reply,
            events.CONVERSATION_RESOLVED: self._resolved,
        }

    @property
    def event_names(self) -> tuple[str, ...]:
        """The gateway events this service follows."""
        return tuple(self._handlers)

    async def perform(self, event: Event) -> None:
        """Apply one gateway event to the conversation's current contact."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            await handler(event)

    async def sweep(self) -> int:
        """Close contacts that went quiet; returns how many were closed."""
        now = self._clock()
        cutoff = now - timedelta(minutes=self._settings.inactivity_minutes)
        closed = 0
        for contact in await self._contacts.quiet(cutoff):
            served = (
                is_need(contact.topic)
                and not contact.in_form
                and (not contact.intents or contact.intents[-1] != FALLBACK_INTENT)
            )
            outcome = models.OUTCOME_BOT if served else models.OUTCOME_ABANDONED
            record = await self._contacts.resolve_by_bot(
                contact.conversation_id,
                Closing(outcome=outcome, resolution="inactivity", at=now),
                quiet_since=cutoff,
            )
            if record is not None:
                closed += 1
                await self._announce_bot_resolution(record)
        return closed

    async def _opened(self, event: Event) -> None:
        # A started conversation comes with its record (its contact_seq, channel, ...).
        known: ConversationRecord | None = event.data.get("conversation")
        await self._contacts.open(event.conversation_id, event.at, known)

    async def _bot_turn(self, event: Event) -> None:
        # The turn was counted with the bot's replies (bot/metrics/hooks.py); what is left
        # is whether it ended the contact.
        intent = event.data.get("intent")
        in_form = bool(event.data.get("active_loop"))
        contact: ContactRecord | None = event.data.get("contact")
        if contact is None or intent not in CLOSING_INTENTS or in_form:
            return
        if not is_need(contact.topic):
            return  # a goodbye without anything served: the contact ends by going quiet
        record = await self._contacts.resolve_by_bot(
            event.conversation_id,
            Closing(outcome=models.OUTCOME_BOT, resolution=str(intent), at=self._clock()),
            last_customer_message_id=event.data.get("message_id"),
        )
        if record is not None:
            await self._announce_bot_resolution(record)

    async def _handoff(self, event: Event) -> None:
        await self._contacts.note_handoff(event.conversation_id, event.data.get("reason"), event.at)

    async def _cancelled(self, event: Event) -> None:
        await self._contacts.note_cancel(event.conversation_id, event.at)

    async def _agent(self, event: Event) -> None:
        agent_id = event.data.get("agent_id")
        if isinstance(agent_id, int):
            await self._contacts.note_agent(event.conversation_id, agent_id, event.at)

    async def _agent_reply(self, event: Event) -> None:
        message: MessageRecord = event.data["message"]
        if message.author == "agent" and message.agent_id is not None:
            await self._contacts.note_agent_reply(
                event.conversation_id, message.agent_id, message.created_at or event.at
            )

    async def _resolved(self, event: Event) -> None:
        if event.data.get("by") == RESOLVED_BY_BOT:
            return  # closed by this service already
        agent_id = event.data.get("agent_id")
        record = await self._contacts.close(
            event.conversation_id,
            Closing(
                outcome=models.OUTCOME_AGENT,
                resolution="agent",
                at=event.at,
                resolved_by=agent_id if isinstance(agent_id, int) else None,
                agent_id=agent_id if isinstance(agent_id, int) else None,
            ),
        )
        if record is not None:
            await self._bus.publish(
                Event(events.CONTACT_RESOLVED, record.conversation_id, {"contact": record})
            )

    async def _announce_bot_resolution(self, record: ContactRecord) -> None:
        logger.info("contact %s closed by the bot (%s)", record.id, record.resolution)
        await self._bus.publish(
            Event(
                events.CONVERSATION_RESOLVED,
                record.conversation_id,
                {
                    "by": RESOLVED_BY_BOT,
                    "state": "resolved",
                    "contact_id": record.id,
                    "outcome": record.outcome,
                    "resolution": record.resolution,
                },
            )
        )
        await self._bus.publish(
            Event(events.CONTACT_RESOLVED, record.conversation_id, {"contact": record})
        )
