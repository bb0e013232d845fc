"""Event listeners: each routes one kind of event to one place.

Only live pushes are registered here (inline, as the bus requires). Reporting, CSAT
and the like subscribe their own queued listeners to the same events.
"""

from __future__ import annotations

from bot import events
from bot.events import Event, EventBus
from bot.handoff import HandoffService
from bot.live import LiveHub
from bot.store.records import MessageRecord

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
        """Refresh every waiting customer's position and every inbox's queue."""
        self._hub.to_agents({"type": "queue"})
        # With several gateway instances the customer may be connected to another one:
        # then every waiting conversation gets its position (unseen pushes are dropped).
        everywhere = not self._hub.sees_every_connection
        online = set(self._hub.connected_conversations())
        if not online and not everywhere:
            return
        # One read of the queue for all of them (not one per waiting customer: on a sale
        # day the queue is long and changes with every handoff).
        for conversation_id, frame in await self._handoff.queue_frames():
            if everywhere or conversation_id in online:
                self._hub.to_customer(conversation_id, frame)
