"""The handoff state machine: bot -> queued -> agent -> resolved -> bot.

``bot``: the bot answers. ``queued``: waiting for a person (the bot still answers
simple questions; the customer may cancel). ``agent``: one agent holds it and the bot
is silent. ``resolved``: the human part ended; the next customer message starts a new
contact with the bot. Outside service hours a request becomes a ticket instead of a
queue entry. Every transition is a guarded update in the store, so races have exactly
one winner.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import events
from bot.errors import Conflict, NotFound
from bot.events import Event, EventBus
from bot.rasa_client import HandoffSignal
from bot.settings import ServiceHours
from bot.store import Stores
from bot.store.conversations import NewMessage
from bot.store.models import utcnow
from bot.store.records import AgentRecord, ConversationRecord, HandoffRecord, MessageRecord
from bot.texts import CANCEL_HANDOFF_PAYLOAD, say
from bot.transcript import KeyedLocks, Transcript

STATES = ("bot", "queued", "agent", "resolved")
BOT_UNAVAILABLE = "bot_unavailable"

# Checks a channel runs before an agent's reply is stored (e.g. WeChat's 48-hour window);
# a check refuses by raising a GatewayError.
ReplyGuard = Callable[[ConversationRecord], Awaitable[None]]

# Which transitions exist, for documentation and tests; the store enforces them.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "bot": ("queued",),
    "queued": ("agent", "bot", "resolved"),
    "agent": ("agent", "resolved"),
    "resolved": ("bot", "queued"),
}


@dataclass(frozen=True)
class QueueStatus:
    """Where a waiting customer stands."""

    position: int
    queue_length: int
    expected_wait_minutes: int

    def public(self) -> dict[str, int]:
        """Return the JSON form."""
        return {
            "position": self.position,
            "queue_length": self.queue_length,
            "expected_wait_minutes": self.expected_wait_minutes,
        }


class HandoffService:
    """Decides and performs every handoff transition and tells the customer."""

    def __init__(
        self,
        *,
        stores: Stores,
        transcript: Transcript,
        bus: EventBus,
        locks: KeyedLocks,
        service_hours: ServiceHours,
        minutes_per_customer: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Wire the service.

        Args:
            stores: Gateway stores.
            transcript: Posts customer-visible system messages.
            bus: Event bus.
            locks: Per-conversation locks shared with the message path.
            service_hours: When agents work.
            minutes_per_customer: Handling time used for the wait estimate.
            clock: Current time (tests pass a fixed one).
        """
        self._stores = stores
        self._transcript = transcript
        self._bus = bus
        self._locks = locks
        self._hours = service_hours
        self._minutes = minutes_per_customer
        self._clock = clock
        self._reply_guards: list[ReplyGuard] = []

    def add_reply_guard(self, guard: ReplyGuard) -> None:
        """Run ``guard`` on the conversation before every agent reply is stored."""
        self._reply_guards.append(guard)

    def agents_on_duty(self) -> bool:
        """Whether it is within service hours now."""
        return self._hours.is_open(self._clock())

    async def request(
        self, conversation: ConversationRecord, signal: HandoffSignal
    ) -> list[NewMessage]:
        """Queue the conversation for a person (or open a ticket out of hours).

        The caller holds the conversation's lock and posts the returned messages.

        Args:
            conversation: The conversation.
            signal: Reason, intent and order from the bot (or the gateway).

        Returns:
            The messages telling the customer what happens next.
        """
        language = conversation.language
        if not self.agents_on_duty():
            ticket_id = await self._stores.handoffs.open_ticket(
                conversation.id, signal.reason, signal.order_id
            )
            await self._bus.publish(
                Event(
                    events.TICKET_CREATED,
                    conversation.id,
                    {"ticket_id": ticket_id, "reason": signal.reason},
                )
            )
            return [
                NewMessage(
                    author="system",
                    text=say("offline", language, hours=self._hours.describe()),
                )
            ]
        handoff, created = await self._stores.handoffs.request(
            conversation.id, signal.reason, signal.intent, signal.order_id
        )
        if handoff.state == "agent":
            return []
        if created:
            await self._bus.publish(
                Event(
                    events.HANDOFF_REQUESTED,
                    conversation.id,
                    {
                        "handoff_id": handoff.id,
                        "reason": handoff.reason,
                        "channel": handoff.channel,
                    },
                )
            )
            await self._bus.publish(Event(events.QUEUE_CHANGED, ""))
        status = await self.status(conversation.id)
        position = status.position if status else 1
        minutes = status.expected_wait_minutes if status else self._estimate(1)
        return [
            NewMessage(
                author="system",
                text=say("queued", language, position=position, minutes=minutes),
                buttons=(
                    {
                        "title": say("cancel_button", language),
                        "payload": CANCEL_HANDOFF_PAYLOAD,
                    },
                ),
                custom={"queue": {"position": position, "expected_wait_minutes": minutes}},
            )
        ]

    async def status(self, conversation_id: str) -> QueueStatus | None:
        """Return a queued conversation's position and expected wait, or None."""
        found = await self._stores.handoffs.position(conversation_id)
        if found is None:
            return None
        position, total = found
        return QueueStatus(position, total, self._estimate(position))

    async def queue_frames(self) -> list[tuple[str, dict[str, Any]]]:
        """The ``state`` frame of every waiting conversation, from one read of the queue.

        Returns:
            ``(conversation id, frame)`` pairs, longest wait first; each frame equals
            what :meth:`describe` returns for that conversation.
        """
        entries = await self._stores.handoffs.queue()
        total = len(entries)
        return [
            (
                entry.conversation.id,
                {
                    "type": "state",
                    "state": "queued",
                    "queue": QueueStatus(
                        entry.position, total, self._estimate(entry.position)
                    ).public(),
                },
            )
            for entry in entries
        ]

    async def describe(self, conversation_id: str) -> dict[str, Any] | None:
        """Return the customer-facing state of a conversation (``state`` frame).

        Returns:
            ``{"type": "state", "state", "queue"?, "agent_name"?}`` or None if the
            conversation does not exist.
        """
        conversation = await self._stores.conversations.get(conversation_id)
        if conversation is None:
            return None
        frame: dict[str, Any] = {"type": "state", "state": conversation.state}
        if conversation.state == "queued":
            status = await self.status(conversation_id)
            if status is not None:
                frame["queue"] = status.public()
        if conversation.state == "agent" and conversation.assigned_agent_id:
            agent = await self._stores.agents.get(conversation.assigned_agent_id)
            if agent is not None:
                frame["agent_name"] = agent.display_name
        return frame

    async def cancel(self, conversation: ConversationRecord) -> list[NewMessage]:
        """Withdraw the customer's queued request (caller holds the lock).

        Returns:
            The message to post.
        """
        if await self._stores.handoffs.cancel(conversation.id):
            await self._bus.publish(Event(events.HANDOFF_CANCELLED, conversation.id))
            await self._bus.publish(Event(events.QUEUE_CHANGED, ""))
            return [NewMessage(author="system", text=say("cancelled", conversation.language))]
        return [NewMessage(author="system", text=say("nothing_to_cancel", conversation.language))]

    async def claim(self, conversation_id: str, agent: AgentRecord) -> HandoffRecord:
        """Give a queued conversation to ``agent``.

        Raises:
            NotFound: unknown conversation.
            Conflict: it is not queued (someone else was faster, or it was cancelled).
        """
        conversation = await self._require(conversation_id)
        handoff = await self._stores.handoffs.claim(conversation_id, agent.id)
        if handoff is None:
            raise Conflict("This conversation is no longer waiting in the queue.")
        await self._announce_agent(conversation, agent, "agent_joined", events.AGENT_ASSIGNED)
        await self._bus.publish(Event(events.QUEUE_CHANGED, ""))
        return handoff

    async def transfer(
        self, conversation_id: str, agent: AgentRecord, target: AgentRecord
    ) -> HandoffRecord:
        """Pass a held conversation to another agent.

        Raises:
            NotFound: unknown conversation.
            Conflict: the caller does not hold it (supervisors may move any).
        """
        conversation = await self._require(conversation_id)
        holder = None if agent.is_supervisor else agent.id
        handoff = await self._stores.handoffs.transfer(conversation_id, holder, target.id)
        if handoff is None:
            raise Conflict("You can only transfer a conversation you are handling.")
        await self._announce_agent(
            conversation, target, "transferred", events.CONVERSATION_TRANSFERRED
        )
        return handoff

    async def resolve(self, conversation_id: str, agent: AgentRecord) -> HandoffRecord:
        """End the human part; the bot answers the customer's next message.

        Raises:
            NotFound: unknown conversation.
            Conflict: the caller does not hold it (supervisors may resolve any open one).
        """
        conversation = await self._require(conversation_id)
        async with self._locks.hold(conversation_id):
            handoff = await self._stores.handoffs.resolve(
                conversation_id, agent.id, any_holder=agent.is_supervisor
            )
            if handoff is None:
                raise Conflict("You can only resolve a conversation you are handling.")
            await self._transcript.post(
                conversation_id,
                [NewMessage(author="system", text=say("resolved", conversation.language))],
            )
        await self._bus.publish(
            Event(
                events.CONVERSATION_RESOLVED,
                conversation_id,
                {"handoff_id": handoff.id, "agent_id": handoff.agent_id, "state": "resolved"},
            )
        )
        await self._bus.publish(Event(events.QUEUE_CHANGED, ""))
        return handoff

    async def reply(self, conversation_id: str, agent: AgentRecord, text: str) -> MessageRecord:
        """Store and deliver an agent's message.

        Raises:
            NotFound: unknown conversation.
            Conflict: the agent does not hold the conversation.
            GatewayError: a reply guard refused (e.g. outside WeChat's window).
        """
        conversation = await self._require(conversation_id)
        for guard in self._reply_guards:
            await guard(conversation)
        record = await self._stores.handoffs.add_agent_reply(conversation_id, agent.id, text)
        if record is None:
            raise Conflict("Claim the conversation before replying.")
        await self._transcript.announce(record)
        return record

    async def take_ticket(self, ticket_id: int, agent: AgentRecord) -> str:
        """Close a ticket and hand its conversation to ``agent``.

        Returns:
            The conversation id.

        Raises:
            Conflict: the ticket is not open.
        """
        conversation_id = await self._stores.handoffs.take_ticket(ticket_id, agent.id)
        if conversation_id is None:
            raise Conflict("This ticket is already closed.")
        conversation = await self._require(conversation_id)
        if conversation.state == "agent" and conversation.assigned_agent_id == agent.id:
            await self._announce_agent(conversation, agent, "agent_joined", events.AGENT_ASSIGNED)
        await self._bus.publish(Event(events.QUEUE_CHANGED, ""))
        return conversation_id

    async def _announce_agent(
        self,
        conversation: ConversationRecord,
        agent: AgentRecord,
        text_key: str,
        event_name: str,
    ) -> None:
        await self._transcript.post(
            conversation.id,
            [
                NewMessage(
                    author="system",
                    text=say(text_key, conversation.language, name=agent.display_name),
                    custom={"agent_name": agent.display_name},
                )
            ],
        )
        await self._bus.publish(
            Event(
                event_name,
                conversation.id,
                {"agent_id": agent.id, "agent_name": agent.display_name, "state": "agent"},
            )
        )

    async def _require(self, conversation_id: str) -> ConversationRecord:
        conversation = await self._stores.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation

    def _estimate(self, position: int) -> int:
        return max(1, math.ceil(position * self._minutes))
