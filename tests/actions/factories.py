"""Builders for action tests: trackers from named fields, and running an action."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN: dict[str, Any] = {}


def user_event(text: str, intent: str, entities: list[dict[str, Any]] | None = None,
               metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `user` event as Rasa sends it to the action server."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                       "entities": entities or []},
        "metadata": metadata or {},
    }


def make_tracker(
    *,
    text: str = "",
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    customer_id: str | None = None,
    anonymous_channel: bool = True,
    events: list[dict[str, Any]] | None = None,
    ranking: list[dict[str, Any]] | None = None,
    sender_id: str = "test-conversation",
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest message is `text` with `intent`.

    The gateway always sends `customer_id` in the metadata, null for anonymous customers
    (`anonymous_channel`); a channel without identity sends no key at all.
    """
    metadata: dict[str, Any] = {}
    if customer_id is not None or anonymous_channel:
        metadata = {"customer_id": customer_id, "channel": "web"}
    latest = user_event(text, intent, metadata=metadata)
    latest_message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "entities": [],
        "metadata": metadata,
    }
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": {"language": "zh", "verified_orders": [], "verify_attempts": 0,
                      **(slots or {})},
            "latest_message": latest_message,
            "events": [*(events or []), latest],
            "active_loop": {"name": active_loop} if active_loop else {},
        }
    )


async def run(
    action: Action, tracker: Tracker
) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    """Runs an action; returns its events and the dispatcher holding its messages."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    """Names of the responses an action sent."""
    return [m.get("response") for m in dispatcher.messages if m.get("response")]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slot values an action set, by slot name."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
