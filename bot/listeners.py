"""Event listeners: each routes one kind of event to one place.

Only live pushes are registered here (inline, as the bus requires). Reporting, CSAT
and the like subscribe their own queued listeners to the same events.
"""

from __future__ import annotations

import asyncio
import logging

from bot import events
from bot.events import Event, EventBus
from bot.handoff import HandoffService
from bot.live import LiveHub, keep
from bot.store.records import MessageRecord

logger = logging.getLogger(__name__)

QUEUE_SIGNAL = "queue"

STATE_EVENTS = (
    events.HANDOFF_REQUESTED,
    events.HANDOFF_CANCELLED,
    events.AGENT_ASSIGNED,
    events.CONVERSATION_TRANSFERRED,
    events.CONVERSATION_RESOLVED,
    events.CONVERSATION_REOPENED,
    events.TICKET_CREATED,
)


class LivePushListener:
    """Pushes messages and state changes to connected customers and agents."""

    def __init__(self, hub: LiveHub, handoff: HandoffService) -> None:
        """Wire the listener.

        Args:
            hub: Open connections.
            handoff: Conversation states and queue positions for waiting customers.
        """
        self._hub = hub
        self._handoff = handoff
        self._refreshing: asyncio.Task[None] | None = None
        self._refresh_again = False
        hub.on_signal(QUEUE_SIGNAL, self._refresh_queue)

    def subscribe(self, bus: EventBus) -> None:
        """Register on the bus (inline: pushes are the only inline listeners)."""
        bus.subscribe(events.MESSAGE_RECEIVED, self.on_message, inline=True)
        bus.subscribe(events.MESSAGE_SENT, self.on_message, inline=True)
        for name in STATE_EVENTS:
            bus.subscribe(name, self.on_state, inline=True)
        bus.subscribe(events.QUEUE_CHANGED, self.on_queue, inline=True)

    async def on_message(self, event: Event) -> None:
        """Deliver a stored message to the customer's tabs and watching agents."""
        record: MessageRecord = event.data["message"]
        frame = record.public()
        self._hub.to_customer(event.conversation_id, {"type": "message", "message": frame})
        self._hub.to_agents(
            {"type": "message", "conversation_id": event.conversation_id, "message": frame},
            watching=event.conversation_id,
        )
        self._hub.to_agents(
            {
                "type": "activity",
                "conversation_id": event.conversation_id,
                "author": record.author,
            }
        )

    async def on_state(self, event: Event) -> None:
        """Tell the customer and every inbox that a conversation changed state."""
        frame = await self._handoff.describe(event.conversation_id)
        if frame is None:
            return
        self._hub.to_customer(event.conversation_id, frame)
        self._hub.to_agents(
            {
                "type": "conversation",
                "conversation_id": event.conversation_id,
                "state": frame["state"],
                "event": event.name,
            }
        )

    async def on_queue(self, _event: Event) -> None:
        """Refresh every inbox's queue, and every instance its waiting customers' places."""
        self._hub.to_agents({"type": "queue"})
        self._hub.signal(QUEUE_SIGNAL)

    def _refresh_queue(self) -> None:
        """Push their places to the waiting customers connected to this instance.

        Each instance does it for its own connections, so a queue change costs nothing
        where no waiting customer is connected (one signal, not a push per waiting
        customer through Redis; on a sale day the queue is long and changes with every
        handoff). Changes that arrive during a refresh make one more refresh.
        """
        if self._refreshing is not None and not self._refreshing.done():
            self._refresh_again = True
            return
        self._refreshing = keep(asyncio.create_task(self._refresh_until_settled()))

    async def _refresh_until_settled(self) -> None:
        again = True
        while again:
            self._refresh_again = False
            online = set(self._hub.connected_conversations())
            if online:
                try:  # one read of the queue for all of them, not one per waiting customer
                    frames = await self._handoff.queue_frames()
                except Exception:  # noqa: BLE001 - a push, not worth failing anything for
                    logger.exception("could not refresh the queue places")
                    return
                for conversation_id, frame in frames:
                    if conversation_id in online:
                        self._hub.to_customer_here(conversation_id, frame)
            again = self._refresh_again
