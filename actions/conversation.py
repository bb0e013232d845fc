"""What the actions read from a conversation: language, identity and recent history.

Everything here is derived from the tracker, so the dialogue needs no extra bookkeeping
slots for "which task was asked for" or "how many fallbacks in a row".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Tracker

from actions.constants import (
    FALLBACK_INTENT,
    SLOT_CUSTOMER_ID,
    SLOT_LANGUAGE,
    SLOT_PENDING_CONFIRMATION,
    SLOT_VERIFIED_ORDERS,
    TASK_INTENTS,
)
from actions.i18n import Lang

RESUME_ACTION = "action_resume_task"


def language(tracker: Tracker) -> Lang:
    """The language to answer in: the slot the NLU keeps current, Chinese by default."""
    return "en" if tracker.get_slot(SLOT_LANGUAGE) == "en" else "zh"


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """Metadata the channel attached to the latest customer message."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def customer_id(tracker: Tracker) -> str | None:
    """The customer verified by the channel, if any.

    The gateway sends `customer_id` (possibly null) with every message, and that is
    authoritative. Only when a message carries no such key (a channel without identity)
    does the id remembered from the session start apply.
    """
    metadata = message_metadata(tracker)
    if "customer_id" in metadata:
        value = metadata.get("customer_id")
        return str(value) if value else None
    value = tracker.get_slot(SLOT_CUSTOMER_ID)
    return str(value) if value else None


def verified_orders(tracker: Tracker) -> list[str]:
    """Orders an unidentified customer has proven with the phone digits."""
    return list(tracker.get_slot(SLOT_VERIFIED_ORDERS) or [])


def latest_intent(tracker: Tracker) -> str | None:
    """Name of the intent of the latest customer message."""
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _user_events_newest_first(tracker: Tracker) -> Iterable[dict[str, Any]]:
    return (event for event in reversed(tracker.events) if event.get("event") == "user")


def pending_task(tracker: Tracker) -> str:
    """The order task the customer asked for that has not been served yet.

    Scans back to the previous time a task was served; the newest task intent since then
    wins (a customer who switches from "track" to "cancel" mid-way gets the cancel).
    A bare order number with no task asked for means "show me this order".
    """
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == RESUME_ACTION:
            break
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in TASK_INTENTS:
                return intent
    return "order_status"


def fallback_streak(tracker: Tracker) -> int:
    """How many of the latest customer messages in a row were not understood."""
    streak = 0
    for event in _user_events_newest_first(tracker):
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        streak += 1
    return streak


def fresh_confirmation(tracker: Tracker) -> str | None:
    """The confirmation the bot asked for in its last turn, or None.

    A "yes" only confirms the question the bot asked right before it: a pending
    confirmation set before the previous customer message has gone stale.
    """
    value = tracker.get_slot(SLOT_PENDING_CONFIRMATION)
    if not value:
        return None
    users_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users_seen += 1
            if users_seen > 1:
                return None
        elif (
            event.get("event") == "slot"
            and event.get("name") == SLOT_PENDING_CONFIRMATION
        ):
            return str(value) if event.get("value") == value else None
    return None


def intent_ranking(tracker: Tracker) -> list[dict[str, Any]]:
    """Intent ranking of the latest message (best first)."""
    return list((tracker.latest_message or {}).get("intent_ranking") or [])
