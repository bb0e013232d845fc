"""The message path: store first, then route to the bot, the queue or the agent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy.orm import Session

from bot import events
from bot.channels.base import InboundMessage
from bot.errors import Conflict, InvalidRequest, MessageTooLarge
from bot.events import Event, EventBus
from bot.handoff import BOT_UNAVAILABLE, HandoffService, QueueStatus
from bot.language import pick_language
from bot.rasa_client import HandoffSignal, RasaClient, RasaUnavailable, TrackerSummary
from bot.store import Stores
from bot.store.conversations import Answered, NewMessage, Received, new_conversation_id
from bot.store.records import ConversationRecord, MessageRecord
from bot.texts import CANCEL_HANDOFF_PAYLOAD, say
from bot.transcript import KeyedLocks, Transcript

logger = logging.getLogger(__name__)

TypingHook = Callable[[str, bool], Awaitable[None]]


class TurnNote(Protocol):
    """The bookkeeping of one bot turn (the contact's turn count and intent)."""

    def record(self, session: Session) -> None:
        """Runs inside the transaction that stores the bot's replies (may run twice if
        that transaction is retried)."""

    async def announce(self) -> None:
        """Runs once that transaction committed."""


class MessageHooks(Protocol):
    """What contacts and ratings add to the message path (``bot/metrics``)."""

    async def before_route(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> list[NewMessage] | None:
        """Take the message first (a survey answer): replies, or None to route it."""

    async def bot_turn(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        understood: TrackerSummary | None = None,
    ) -> TurnNote:
        """Called once Rasa answered the message, before its replies are stored
        (``understood``: the turn's intent and form when Rasa sent them with the replies)."""


@dataclass(frozen=True)
class Answer:
    """What routing decided to post in answer to a customer message."""

    replies: list[NewMessage] = field(default_factory=list)
    turn: TurnNote | None = None  # set when the bot answered


class ConversationIds:
    """The conversation id of each recently seen ``(channel, sender)``.

    It tells the message path which lock to take before the conversation is read (an id
    never changes), so that reading the conversation and storing the message are one
    transaction. Only a hint: the store checks it.
    """

    def __init__(self, limit: int = 100_000) -> None:
        """Start empty; beyond ``limit`` entries the oldest are forgotten."""
        self._ids: dict[tuple[str, str], str] = {}
        self._limit = limit

    def get(self, channel: str, sender: str) -> str | None:
        """The id last seen for a sender, if any."""
        return self._ids.get((channel, sender))

    def remember(self, conversation: ConversationRecord) -> None:
        """Note a conversation's id."""
        key = (conversation.channel, conversation.sender)
        if key not in self._ids and len(self._ids) >= self._limit:
            del self._ids[next(iter(self._ids))]  # dicts keep insertion order: the oldest
        self._ids[key] = conversation.id


def _check_owner(conversation: ConversationRecord, customer_id: str | None) -> None:
    if conversation.belongs_to_another(customer_id):
        raise Conflict("This conversation belongs to another customer.")


@dataclass(frozen=True)
class HandledMessage:
    """The outcome of one customer message."""

    conversation: ConversationRecord
    message: MessageRecord
    replies: list[MessageRecord]
    duplicate: bool = False
    queue: QueueStatus | None = None
    agent_name: str | None = None

    def public(self) -> dict[str, object]:
        """Return the HTTP API answer."""
        body: dict[str, object] = {
            "conversation_id": self.conversation.id,
            "state": self.conversation.state,
            "message_id": self.message.id,
            "replies": [{"text": r.text, "buttons": r.buttons} for r in self.replies],
        }
        if self.queue is not None:
            body["queue"] = self.queue.public()
        if self.agent_name:
            body["agent_name"] = self.agent_name
        return body


async def _no_typing(_conversation_id: str, _on: bool) -> None:
    return None


@dataclass
class ConversationService:
    """Handles every inbound customer message, whatever the channel."""

    stores: Stores
    rasa: RasaClient
    handoff: HandoffService
    transcript: Transcript
    bus: EventBus
    locks: KeyedLocks
    max_chars: int = 2000
    typing: TypingHook = field(default=_no_typing)
    duplicate_wait_seconds: float = 5.0
    hooks: MessageHooks | None = None
    ids: ConversationIds = field(default_factory=ConversationIds)

    def check(self, inbound: InboundMessage) -> None:
        """Reject a message that must not be stored (empty or too long).

        Raises:
            InvalidRequest: empty text.
            MessageTooLarge: more than ``max_chars`` characters.
        """
        if len(inbound.text) > self.max_chars:
            raise MessageTooLarge(
                f"The message is too long (at most {self.max_chars} characters). "
                f"消息太长了，最多 {self.max_chars} 字。"
            )
        if not inbound.text.strip():
            raise InvalidRequest("The message is empty.")

    async def open(self, inbound: InboundMessage) -> ConversationRecord:
        """Find or start the conversation a message belongs to.

        Raises:
            Conflict: the conversation belongs to another verified customer.
        """
        language = pick_language(inbound.text, inbound.language, None)
        conversation, created = await self.stores.conversations.open(
            inbound.channel, inbound.sender, inbound.customer_id, language
        )
        self.ids.remember(conversation)
        _check_owner(conversation, inbound.customer_id)
        if created:
            await self._announce_start(conversation)
        return conversation

    async def find(self, channel: str, sender: str) -> ConversationRecord | None:
        """Return the conversation of a channel's sender, if it exists."""
        return await self.stores.conversations.find(channel, sender)

    async def history(self, conversation_id: str, after_id: int = 0) -> list[MessageRecord]:
        """Return the customer-visible transcript after a message id."""
        return await self.stores.conversations.transcript(conversation_id, after_id)

    async def describe(self, conversation_id: str) -> dict[str, object] | None:
        """Return the conversation's state frame (state, queue, agent name)."""
        return await self.handoff.describe(conversation_id)

    async def handle(self, inbound: InboundMessage) -> HandledMessage:
        """Store a customer message, then let the bot or the agent have it.

        Args:
            inbound: The parsed message from a channel adapter.

        Returns:
            The conversation's new state and the replies (a repeat of an already
            stored client message id returns the original replies).

        Raises:
            Conflict: the conversation belongs to another verified customer.
        """
        self.check(inbound)
        # A sender not seen yet gets a fresh id: it is the new conversation's id if this
        # message creates it, and nobody else can hold its lock meanwhile.
        conversation_id = self.ids.get(inbound.channel, inbound.sender) or new_conversation_id()
        while True:
            async with self.locks.hold(conversation_id):
                received = await self._receive(inbound, conversation_id)
                if received.conversation.id == conversation_id:
                    handled = await self._process(inbound, received)
                    break
            # The conversation exists under another id (first seen here): take its lock.
            conversation_id = received.conversation.id
        return await self._with_state(handled)

    async def _receive(self, inbound: InboundMessage, conversation_id: str) -> Received:
        """Open the conversation and store the message (the caller holds the lock)."""
        received = await self.stores.conversations.receive(
            conversation_id,
            inbound.channel,
            inbound.sender,
            inbound.text,
            inbound.client_message_id,
            inbound.customer_id,
            pick_language(inbound.text, inbound.language, None),
        )
        self.ids.remember(received.conversation)
        _check_owner(received.conversation, inbound.customer_id)
        if received.created:
            await self._announce_start(received.conversation)
        return received

    async def _process(self, inbound: InboundMessage, received: Received) -> HandledMessage:
        """Route a stored message and store the answer (the caller holds the lock)."""
        conversation, message = received.conversation, received.message
        assert message is not None
        if received.duplicate:
            replies = await self._replies_of(message.id)
            return HandledMessage(conversation, message, replies, duplicate=True)
        await self.bus.publish(
            Event(events.MESSAGE_RECEIVED, conversation.id, {"message": message})
        )
        answered: Answered | None = None
        try:
            answer = await self._route(conversation, message, inbound)
            answered = await self.transcript.answer(
                message, answer.replies, answer.turn.record if answer.turn else None
            )
        finally:
            if answered is None:  # failed half-way: a repeat of it must not wait for replies
                await self.stores.conversations.mark_processed(message.id)
        if answer.turn is not None:
            await answer.turn.announce()
        return HandledMessage(answered.conversation, message, answered.replies)

    async def _announce_start(self, conversation: ConversationRecord) -> None:
        await self.bus.publish(
            Event(
                events.CONVERSATION_STARTED,
                conversation.id,
                {"channel": conversation.channel, "conversation": conversation},
            )
        )

    async def _route(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        inbound: InboundMessage,
    ) -> Answer:
        if self.hooks is not None:
            answer = await self.hooks.before_route(conversation, message)
            if answer is not None:
                return Answer(answer)
        if conversation.state == "resolved":
            conversation = await self._reopen(conversation)
        if conversation.state == "agent":
            return Answer()  # the agent sees it live in the inbox; the bot stays silent
        if inbound.text.strip() == CANCEL_HANDOFF_PAYLOAD:
            return Answer(await self.handoff.cancel(conversation))
        if conversation.awaiting_ticket:
            ticket_id = await self.stores.handoffs.fill_ticket(conversation.id, message.id)
            if ticket_id is not None:
                text = say("ticket_received", conversation.language, ticket=f"T{ticket_id}")
                return Answer([NewMessage(author="system", text=text)])
        return await self._ask_bot(conversation, message, inbound)

    async def _reopen(self, conversation: ConversationRecord) -> ConversationRecord:
        """Hand a resolved conversation back to the bot (a new contact starts)."""
        reopened = await self.stores.handoffs.reopen(conversation.id)
        if reopened is None:  # it moved on meanwhile: route it as it is now
            current = await self.stores.conversations.get(conversation.id)
            assert current is not None
            return current
        await self.bus.publish(
            Event(events.CONVERSATION_REOPENED, conversation.id, {"state": "bot"})
        )
        return reopened

    async def _ask_bot(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        inbound: InboundMessage,
    ) -> Answer:
        metadata = {
            "customer_id": inbound.customer_id,
            "channel": inbound.channel,
            "language": conversation.language,
        }
        await self.typing(conversation.id, True)
        try:
            turn = await self.rasa.send(conversation.id, inbound.text, metadata)
        except RasaUnavailable as exc:
            logger.warning("bot unavailable (%s): failing open to the queue", exc)
            await self.bus.publish(Event(events.BOT_FAILED, conversation.id, {"error": str(exc)}))
            key = "bot_unavailable_queued" if conversation.state == "queued" else "bot_unavailable"
            apology = NewMessage(author="system", text=say(key, conversation.language))
            follow = await self.handoff.request(conversation, HandoffSignal(reason=BOT_UNAVAILABLE))
            return Answer([apology, *follow])
        finally:
            await self.typing(conversation.id, False)
        out = []
        for reply in turn.replies:
            custom = dict(reply.custom or {})
            if reply.image:
                custom["image"] = reply.image
            out.append(
                NewMessage(
                    author="bot",
                    text=reply.text,
                    buttons=reply.buttons,
                    custom=custom or None,
                )
            )
        if turn.handoff is not None:
            out.extend(await self.handoff.request(conversation, turn.handoff))
        note = None
        if self.hooks is not None:
            note = await self.hooks.bot_turn(conversation, message, turn.understood)
        return Answer(out, note)

    async def _replies_of(self, message_id: int) -> list[MessageRecord]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.duplicate_wait_seconds
        while True:
            processed, replies = await self.stores.conversations.replies_to(message_id)
            if processed or loop.time() >= deadline:
                return replies
            await asyncio.sleep(0.2)

    async def _with_state(self, handled: HandledMessage) -> HandledMessage:
        """Add the queue position or the agent's name the conversation's state calls for."""
        conversation = handled.conversation
        if conversation.state == "queued":
            return replace(handled, queue=await self.handoff.status(conversation.id))
        if conversation.state == "agent" and conversation.assigned_agent_id:
            agent = await self.stores.agents.get(conversation.assigned_agent_id)
            return replace(handled, agent_name=agent.display_name if agent else None)
        return handled
