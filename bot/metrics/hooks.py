"""What contacts and ratings add to the message path (``ConversationService.hooks``)."""

from __future__ import annotations

from bot import events
from bot.events import Event, EventBus
from bot.metrics.survey import RatingService
from bot.rasa_client import RasaClient, TrackerSummary
from bot.store.conversations import NewMessage
from bot.store.records import ConversationRecord, MessageRecord


class ContactHooks:
    """Survey answers before routing; the turn's intent after each bot turn."""

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

    async def after_bot_turn(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        understood: TrackerSummary | None = None,
    ) -> None:
        """Read what Rasa understood of the message and announce the turn.

        Runs under the conversation's lock right after the replies were posted, so the
        tracker's latest message is this one. The project's REST channel sends intent and
        form with the replies (``understood``); only without them (a stock REST channel)
        is Rasa's tracker API read. When neither answers, the turn is still counted,
        without an intent.
        """
        summary = understood or await self._rasa.tracker(conversation.id)
        await self._bus.publish(
            Event(
                events.BOT_REPLIED,
                conversation.id,
                {
                    "message_id": message.id,
                    "intent": summary.intent if summary else None,
                    "active_loop": summary.active_loop if summary else None,
                },
            )
        )
