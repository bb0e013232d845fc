"""The rating survey: one prompt per resolved contact, and reading the answers.

``SurveyService`` sends the prompt when a contact was resolved (by the bot or an agent;
abandoned contacts are not asked) and records the agent the rating will be credited to
at that moment. ``RatingService`` sees every customer message first (through the
message path's hook) and takes those that answer a survey:

* a rating button (its payload names the contact, so a late tap lands on the right one,
  even after a new contact began) or a typed 1-5 while the survey waits;
* a second rating for the same contact changes nothing: the first stands, the attempt is
  logged (``csat.duplicate``) and the customer told;
* an answer that is meant as a rating but is not 1-5 (``0``, ``7/10``, ``满意``) is asked
  again once (within ``RATING_REASK_MINUTES``); the next such answer drops the survey and
  goes on to the bot as a new contact. A message that is no answer at all (a new
  question) goes straight to the bot; the buttons keep working for a late rating;
* after a rating, the next message (within ``RATING_COMMENT_MINUTES``) is the comment,
  unless the customer taps Skip.

Nothing here is channel-specific: the prompt is a message with five buttons, which a
channel without buttons shows as numbered options (the typed number is understood).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot import events
from bot.events import Event, EventBus
from bot.metrics import models
from bot.metrics.answers import Answer, looks_like_rating, parse_answer
from bot.metrics.records import ContactRecord
from bot.metrics.settings import MetricsSettings
from bot.metrics.store import ContactStore
from bot.metrics.texts import rating_buttons, say, skip_button
from bot.store import Stores
from bot.store.conversations import NewMessage
from bot.store.models import utcnow
from bot.store.records import ConversationRecord
from bot.transcript import KeyedLocks, Transcript

logger = logging.getLogger(__name__)

LOW_SCORE = 2


class SurveyService:
    """Asks for a rating once per resolved contact."""

    def __init__(
        self,
        *,
        stores: Stores,
        contacts: ContactStore,
        transcript: Transcript,
        bus: EventBus,
        locks: KeyedLocks,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Wire the service.

        Args:
            stores: Gateway stores (the conversation's current state).
            contacts: Contact store.
            transcript: Posts the prompt.
            bus: Publishes ``csat.sent``.
            locks: Per-conversation locks shared with the message path.
            clock: Current time.
        """
        self._stores = stores
        self._contacts = contacts
        self._transcript = transcript
        self._bus = bus
        self._locks = locks
        self._clock = clock

    async def perform(self, contact: ContactRecord) -> bool:
        """Send the rating prompt for a contact that just ended.

        Nothing is sent for an abandoned contact, twice for one contact, or when the
        customer already started a new contact.

        Returns:
            Whether the prompt was sent.
        """
        if contact.outcome not in models.RESOLVED_OUTCOMES:
            return False
        async with self._locks.hold(contact.conversation_id):
            conversation = await self._stores.conversations.get(contact.conversation_id)
            if (
                conversation is None
                or conversation.state != "resolved"
                or conversation.contact_seq != contact.seq
            ):
                return False
            credited = contact.agent_id if contact.outcome == models.OUTCOME_AGENT else None
            if not await self._contacts.start_survey(contact.id, credited, self._clock()):
                return False
            language = conversation.language or contact.language
            await self._transcript.post(
                contact.conversation_id,
                [
                    NewMessage(
                        author="system",
                        text=say("prompt", language),
                        buttons=rating_buttons(language, contact.id),
                        custom={"survey": {"contact_id": contact.id}},
                    )
                ],
            )
        sent = await self._contacts.get(contact.id)
        await self._bus.publish(
            Event(events.CSAT_SENT, contact.conversation_id, {"contact": sent or contact})
        )
        return True


class RatingService:
    """Takes the customer messages that answer a survey."""

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
            contacts: Contact store.
            bus: Publishes the ``csat.*`` events.
            settings: Re-ask and comment windows.
            clock: Current time.
        """
        self._contacts = contacts
        self._bus = bus
        self._settings = settings
        self._clock = clock

    async def perform(self, conversation: ConversationRecord, text: str) -> list[NewMessage] | None:
        """Handle a customer message if it answers a survey (caller holds the lock).

        Args:
            conversation: The conversation, as it is now.
            text: The stored message text (or a button payload).

        Returns:
            The replies to post when the message was a survey answer (possibly none),
            or None when it is not one and goes on to the bot as usual.
        """
        answer = parse_answer(text)
        if answer.payload:
            return await self._button(conversation, answer)
        if conversation.state != "resolved":
            return None
        contact = await self._contacts.current(conversation)
        if contact is None:
            return None
        now = self._clock()
        language = conversation.language or contact.language
        if contact.survey_state in models.SURVEY_PENDING:
            if answer.valid:
                assert answer.score is not None
                return await self._rate(contact, answer.score, answer.comment, language)
            if looks_like_rating(text):
                return await self._invalid(contact, language, now)
            return None  # a new question, not an answer: the bot takes it (buttons still work)
        if contact.rating is not None and self._within(
            contact.rated_at, now, self._settings.comment_minutes
        ):
            if answer.valid and answer.comment is None:
                assert answer.score is not None
                return await self._rate(contact, answer.score, None, language)
            if contact.survey_state == models.SURVEY_RATED:
                stored = await self._contacts.add_comment(contact.id, text.strip())
                if stored is not None:
                    await self._publish(events.CSAT_COMMENTED, stored)
                    return [NewMessage(author="system", text=say("thanks", language))]
        return None

    async def _button(self, conversation: ConversationRecord, answer: Answer) -> list[NewMessage]:
        contact = (
            await self._contacts.get(answer.contact_id)
            if answer.contact_id is not None
            else await self._contacts.current(conversation)
        )
        if contact is None or contact.conversation_id != conversation.id:
            logger.info("rating button for a contact of another conversation ignored")
            return []
        language = conversation.language or contact.language
        if answer.skip:
            if await self._contacts.move_survey(
                contact.id, (models.SURVEY_RATED,), models.SURVEY_DONE
            ):
                return [NewMessage(author="system", text=say("thanks", language))]
            return []
        assert answer.score is not None
        return await self._rate(contact, answer.score, None, language)

    async def _rate(
        self, contact: ContactRecord, score: int, comment: str | None, language: str | None
    ) -> list[NewMessage]:
        result = await self._contacts.rate(contact.id, score, comment, self._clock())
        if result is None:
            return []  # never asked: nothing to rate
        if not result.accepted:
            await self._publish(events.CSAT_DUPLICATE, result.contact, score=score)
            return [
                NewMessage(
                    author="system",
                    text=say("duplicate", language, score=result.contact.rating),
                )
            ]
        await self._publish(events.CSAT_SUBMITTED, result.contact)
        if comment:
            await self._publish(events.CSAT_COMMENTED, result.contact)
            return [NewMessage(author="system", text=say("thanks", language))]
        key = "sorry_ask_comment" if score <= LOW_SCORE else "thanks_ask_comment"
        return [
            NewMessage(
                author="system",
                text=say(key, language),
                buttons=skip_button(language, contact.id),
            )
        ]

    async def _invalid(
        self, contact: ContactRecord, language: str | None, now: datetime
    ) -> list[NewMessage] | None:
        recent = self._within(contact.survey_sent_at, now, self._settings.reask_minutes)
        if (
            contact.survey_state == models.SURVEY_SENT
            and recent
            and await self._contacts.move_survey(
                contact.id, (models.SURVEY_SENT,), models.SURVEY_RETRY
            )
        ):
            await self._publish(events.CSAT_INVALID, contact)
            return [
                NewMessage(
                    author="system",
                    text=say("reask", language),
                    buttons=rating_buttons(language, contact.id),
                )
            ]
        if await self._contacts.move_survey(
            contact.id, models.SURVEY_PENDING, models.SURVEY_DROPPED
        ):
            await self._publish(events.CSAT_DROPPED, contact)
        return None  # the message is a new question: the bot answers it

    async def _publish(self, name: str, contact: ContactRecord, **data: object) -> None:
        await self._bus.publish(Event(name, contact.conversation_id, {"contact": contact, **data}))

    @staticmethod
    def _within(since: datetime | None, now: datetime, minutes: float) -> bool:
        return since is not None and now - since <= timedelta(minutes=minutes)
