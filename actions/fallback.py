"""Two-stage fallback: ask with readable choices first, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ShopAction
from actions.constants import FALLBACK_INTENT, REASON_FALLBACK
from actions.conversation import fallback_streak, intent_ranking, language
from actions.handoff import hand_off
from actions.i18n import intent_label, label

CHOICES = 3
SKIPPED = (FALLBACK_INTENT, "human_agent")  # the person button is always added


class ActionClarify(ShopAction):
    """After a message the bot did not understand."""

    def name(self) -> str:
        """Action name."""
        return "action_clarify"

    async def perform(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Offers the likeliest intents as buttons; the second miss in a row hands off."""
        if fallback_streak(tracker) >= 2:
            return await hand_off(self.repo, dispatcher, tracker, REASON_FALLBACK)
        lang = language(tracker)
        buttons = []
        for candidate in intent_ranking(tracker):
            name = candidate.get("name")
            title = intent_label(name, lang) if name not in SKIPPED else None
            if title:
                buttons.append({"title": title, "payload": f"/{name}"})
            if len(buttons) == CHOICES:
                break
        buttons.append({"title": label("button", "human", lang), "payload": "/human_agent"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []
