"""What contacts and ratings add to the message path (``ConversationService.hooks``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import events
from bot.events import Event, EventBus
from bot.metrics.records import ContactRecord
from bot.metrics.store import note_turn
from bot.metrics.survey import RatingService
from bot.rasa_client import RasaClient, TrackerSummary
from bot.store.conversations import NewMessage
from bot.store.models import utcnow
from bot.store.records import ConversationRecord, MessageRecord


class ContactHooks:
    """Survey answers before routing; the turn's intent and count with each bot turn."""

    def __init__(self, ratings: RatingService, rasa: RasaClient, bus: EventBus) -> None:
        """Wire the hooks.

        Args:
            ratings: Takes survey answers.
            rasa: Reads the tracker (intent and active form of the turn).
            bus: Publishes ``bot.replied``.
        """
        self._ratings = ratings
        self._rasa = rasa
        self._bus = bus

    async def before_route(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> list[NewMessage] | None:
        """Let the survey take the message first (None: route it as usual)."""
        return await self._ratings.perform(conversation, message.text)

    async def bot_turn(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        understood: TrackerSummary | None = None,
    ) -> ContactTurn:
        """Read what Rasa understood of the message, for the contact's bookkeeping.

        Runs under the conversation's lock right after Rasa answered, so the tracker's
        latest message is this one. The project's REST channel sends intent and form with
        the replies (``understood``); only without them (a stock REST channel) is Rasa's
        tracker API read. When neither answers, the turn is still counted, without an
        intent.
        """
        summary = understood or await self._rasa.tracker(conversation.id)
        return ContactTurn(
            bus=self._bus,
            conversation_id=conversation.id,
            message_id=message.id,
            intent=summary.intent if summary else None,
            active_loop=summary.active_loop if summary else None,
            at=utcnow(),
        )


@dataclass
class ContactTurn:
    """One bot turn: counted on the contact in the transaction that stores the bot's
    replies (no transaction of its own), then announced as ``bot.replied``."""

    bus: EventBus
    conversation_id: str
    message_id: int
    intent: str | None
    active_loop: str | None
    at: datetime
    contact: ContactRecord | None = None

    def record(self, session: Session) -> None:
        """Count the turn on the open contact (inside the replies' transaction)."""
        self.contact = note_turn(
            session, self.conversation_id, self.intent, bool(self.active_loop), self.at
        )

    async def announce(self) -> None:
        """Publish ``bot.replied`` with the counted contact (None: none was open)."""
        await self.bus.publish(
            Event(
                events.BOT_REPLIED,
                self.conversation_id,
                {
                    "message_id": self.message_id,
                    "intent": self.intent,
                    "active_loop": self.active_loop,
                    "contact": self.contact,
                },
            )
        )
