"""The handoff card: who the customer is and what they need, at a glance."""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.inbox.orders import ShopOrderLookup, mask_phone, masked
from bot.rasa_client import RasaClient
from bot.store import Stores

logger = logging.getLogger(__name__)

# Slots that are internal plumbing rather than something an agent acts on.
HIDDEN_SLOTS = {"requested_slot", "session_started_metadata", "channel"}
_LONG_DIGITS = re.compile(r"\d{7,}")


def _mask_slot(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if "phone" in name:
            return mask_phone(value) if len(value) > 4 else "*" * len(value)
        if "address" in name or name == "new_value":
            value = masked(value, "address") if not value.isdigit() else mask_phone(value)
        return _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), value)
    return masked(value, name)


class HandoffCardBuilder:
    """Puts the card together from the gateway, Rasa's tracker and the shop data."""

    def __init__(self, stores: Stores, rasa: RasaClient, orders: ShopOrderLookup) -> None:
        """Wire the builder.

        Args:
            stores: Gateway stores.
            rasa: Rasa client (tracker: intent and slots).
            orders: Live order lookup.
        """
        self._stores = stores
        self._rasa = rasa
        self._orders = orders

    async def build(self, conversation_id: str) -> dict[str, Any] | None:
        """Return the card of a conversation, or None if it does not exist."""
        conversation = await self._stores.conversations.get(conversation_id)
        if conversation is None:
            return None
        handoff = await self._stores.handoffs.current(conversation_id)
        tracker = await self._rasa.tracker(conversation_id)
        slots = tracker.slots if tracker else {}
        verified_orders = slots.get("verified_orders") or []
        if conversation.customer_id:
            identity = {"verified": True, "method": "token"}
        elif verified_orders:
            identity = {"verified": True, "method": "order_and_phone", "orders": verified_orders}
        else:
            identity = {"verified": False, "method": None}
        order_id = (handoff.order_id if handoff else None) or slots.get("order_id")
        order: dict[str, Any] | None = None
        order_status = "none"
        if isinstance(order_id, str) and order_id:
            try:
                order = await self._orders.order(order_id)
                order_status = "ok" if order else "not_found"
            except LookupError:
                order_status = "unavailable"
        if order is not None:
            owner = order.get("customer_id")
            order["belongs_to_customer"] = bool(
                owner and (owner == conversation.customer_id or order_id in verified_orders)
            )
        customer_name = None
        if conversation.customer_id:
            customer_name = await self._orders.customer_name(conversation.customer_id)
        assigned = None
        if conversation.assigned_agent_id:
            agent = await self._stores.agents.get(conversation.assigned_agent_id)
            assigned = agent.public() if agent else None
        return {
            "conversation_id": conversation.id,
            "channel": conversation.channel,
            "state": conversation.state,
            "language": conversation.language,
            "customer": {
                "id": conversation.customer_id,
                "name": customer_name,
                "identity": identity,
            },
            "reason": handoff.reason if handoff else None,
            "intent": (handoff.intent if handoff and handoff.intent else None)
            or (tracker.intent if tracker else None),
            "latest_intent": tracker.intent if tracker else None,
            "active_loop": tracker.active_loop if tracker else None,
            "slots": {
                name: _mask_slot(name, value)
                for name, value in sorted(slots.items())
                if name not in HIDDEN_SLOTS and value not in (None, [], "")
            },
            "tracker_available": tracker is not None,
            "order_id": order_id,
            "order": order,
            "order_status": order_status,
            "queued_at": handoff.queued_at.isoformat() if handoff else None,
            "claimed_at": handoff.claimed_at.isoformat()
            if handoff and handoff.claimed_at
            else None,
            "assigned_agent": assigned,
        }
