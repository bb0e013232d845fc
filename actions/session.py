"""Session start: carry the conversation's slots over and take identity from the channel."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.constants import SLOT_CHANNEL, SLOT_CUSTOMER_ID, SLOT_LANGUAGE

SESSION_METADATA_SLOT = "session_started_metadata"


def carried_over(tracker: Tracker) -> list[EventType]:
    """SlotSet events that restore the previous session's slot values."""
    return [
        SlotSet(event["name"], event.get("value"))
        for event in tracker.events
        if event.get("event") == "slot" and event.get("name") != SESSION_METADATA_SLOT
    ]


def identity_events(metadata: dict[str, Any]) -> list[EventType]:
    """Slots taken from the channel's metadata (the channel has verified the customer)."""
    events: list[EventType] = []
    if "customer_id" in metadata:
        events.append(SlotSet(SLOT_CUSTOMER_ID, metadata.get("customer_id") or None))
    if metadata.get("channel"):
        events.append(SlotSet(SLOT_CHANNEL, str(metadata["channel"])))
    if metadata.get("language") in ("zh", "en"):
        events.append(SlotSet(SLOT_LANGUAGE, metadata["language"]))
    return events


class ActionSessionStart(Action):
    """Starts a session with the slots of the last one and the channel's identity."""

    def name(self) -> str:
        """Action name."""
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Returns the session-start events."""
        metadata = tracker.get_slot(SESSION_METADATA_SLOT) or {}
        return [
            SessionStarted(),
            *carried_over(tracker),
            *identity_events(metadata if isinstance(metadata, dict) else {}),
            ActionExecuted("action_listen"),
        ]
