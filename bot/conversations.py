"""The message path: store first, then route to the bot, the queue or the agent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot import events
from bot.channels.base import InboundMessage
from bot.errors import Conflict, InvalidRequest, MessageTooLarge
from bot.events import Event, EventBus
from bot.handoff import BOT_UNAVAILABLE, HandoffService, QueueStatus
from bot.language import pick_language
from bot.rasa_client import HandoffSignal, RasaClient, RasaUnavailable, TrackerSummary
from bot.store import Stores
from bot.store.conversations import NewMessage
from bot.store.records import ConversationRecord, MessageRecord
from bot.texts import CANCEL_HANDOFF_PAYLOAD, say
from bot.transcript import KeyedLocks, Transcript

logger = logging.getLogger(__name__)

TypingHook = Callable[[str, bool], Awaitable[None]]


class MessageHooks(Protocol):
    """What contacts and ratings add to the message path (``bot/metrics``)."""

    async def before_route(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> list[NewMessage] | None:
        """Take the message first (a survey answer): replies, or None to route it."""

    async def after_bot_turn(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        understood: TrackerSummary | None = None,
    ) -> None:
        """Called once the bot's replies to the message were posted (``understood``:
        the turn's intent and form when Rasa sent them with the replies)."""


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
        if (
            conversation.customer_id
            and inbound.customer_id
            and conversation.customer_id != inbound.customer_id
        ):
            raise Conflict("This conversation belongs to another customer.")
        if created:
            await self.bus.publish(
                Event(
                    events.CONVERSATION_STARTED,
                    conversation.id,
                    {"channel": conversation.channel},
                )
            )
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
        """
        self.check(inbound)
        conversation = await self.open(inbound)
        async with self.locks.hold(conversation.id):
            stored = await self.stores.conversations.add_customer_message(
                conversation.id,
                inbound.text,
                inbound.client_message_id,
                inbound.customer_id,
            )
            if stored.duplicate:
                replies = await self._replies_of(stored.message.id)
                return await self._outcome(conversation.id, stored.message, replies, True)
            await self.bus.publish(
                Event(
                    events.MESSAGE_RECEIVED,
                    conversation.id,
                    {"message": stored.message},
                )
            )
            current = stored.conversation or await self.stores.conversations.get(conversation.id)
            assert current is not None
            replies: list[MessageRecord] = []
            try:
                replies = await self._route(current, stored.message, inbound)
            finally:
                if not replies:  # stored replies already marked their question processed
                    await self.stores.conversations.mark_processed(stored.message.id)
        return await self._outcome(conversation.id, stored.message, replies, False)

    async def _route(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        inbound: InboundMessage,
    ) -> list[MessageRecord]:
        if self.hooks is not None:
            answer = await self.hooks.before_route(conversation, message)
            if answer is not None:
                return await self._post(conversation, message, answer)
        if conversation.state == "resolved":
            if await self.stores.handoffs.reopen(conversation.id):
                await self.bus.publish(
                    Event(events.CONVERSATION_REOPENED, conversation.id, {"state": "bot"})
                )
            refreshed = await self.stores.conversations.get(conversation.id)
            assert refreshed is not None
            conversation = refreshed
        if conversation.state == "agent":
            return []  # the agent sees it live in the inbox; the bot stays silent
        if inbound.text.strip() == CANCEL_HANDOFF_PAYLOAD:
            return await self._post(conversation, message, await self.handoff.cancel(conversation))
        if conversation.awaiting_ticket:
            ticket_id = await self.stores.handoffs.fill_ticket(conversation.id, message.id)
            if ticket_id is not None:
                text = say("ticket_received", conversation.language, ticket=f"T{ticket_id}")
                return await self._post(
                    conversation, message, [NewMessage(author="system", text=text)]
                )
        return await self._ask_bot(conversation, message, inbound)

    async def _ask_bot(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        inbound: InboundMessage,
    ) -> list[MessageRecord]:
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
            return await self._post(conversation, message, [apology, *follow])
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
        posted = await self._post(conversation, message, out)
        if self.hooks is not None:
            await self.hooks.after_bot_turn(conversation, message, turn.understood)
        return posted

    async def _post(
        self,
        conversation: ConversationRecord,
        message: MessageRecord,
        messages: list[NewMessage],
    ) -> list[MessageRecord]:
        return await self.transcript.post(conversation.id, messages, reply_to_id=message.id)

    async def _replies_of(self, message_id: int) -> list[MessageRecord]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.duplicate_wait_seconds
        while True:
            processed, replies = await self.stores.conversations.replies_to(message_id)
            if processed or loop.time() >= deadline:
                return replies
            await asyncio.sleep(0.2)

    async def _outcome(
        self,
        conversation_id: str,
        message: MessageRecord,
        replies: list[MessageRecord],
        duplicate: bool,
    ) -> HandledMessage:
        conversation = await self.stores.conversations.get(conversation_id)
        assert conversation is not None
        queue = (
            await self.handoff.status(conversation_id) if conversation.state == "queued" else None
        )
        agent_name = None
        if conversation.state == "agent" and conversation.assigned_agent_id:
            agent = await self.stores.agents.get(conversation.assigned_agent_id)
            agent_name = agent.display_name if agent else None
        return HandledMessage(
            conversation=conversation,
            message=message,
            replies=replies,
            duplicate=duplicate,
            queue=queue,
            agent_name=agent_name,
        )
