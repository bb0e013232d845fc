"""The reply language follows the language the customer writes in.

Runs as the custom slot mapping of `language` after every customer message (in the Rasa
server itself when it runs with deploy/rasa_patches/language_slot.py). Detection
lives here rather than in an NLU entity so that test stories and NLU evaluation are not
polluted by an entity every message would carry.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.constants import SLOT_LANGUAGE
from actions.conversation import message_metadata

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
ORDER_LIKE = re.compile(r"\b(?:DD\d+|SF|ZT|JD|YT|YD|ST|EMS)\w*\b", re.IGNORECASE)


def detect_language(text: str | None) -> str | None:
    """'zh' for any Chinese character, 'en' for Latin words, None when it can't tell.

    Order and tracking numbers ("DD2026...", "SF123...") and intent payloads ("/affirm")
    say nothing about the language.
    """
    if not text or text.startswith("/"):
        return None
    if CJK.search(text):
        return "zh"
    words = LATIN_WORD.findall(ORDER_LIKE.sub(" ", text))
    return "en" if words else None


def language_change(
    text: str | None, metadata: dict[str, Any] | None, current: str | None
) -> str | None:
    """The language the reply should switch to after a message, or None to keep it.

    Also run inside the Rasa server (deploy/rasa_patches/language_slot.py) to spare the
    action server a round trip per message; both ways give the same answer.
    """
    detected = detect_language(text) or (metadata or {}).get("language")
    if detected in ("zh", "en") and detected != current:
        return str(detected)
    return None


class ActionDetectLanguage(Action):
    """Sets the `language` slot from the latest message (or the channel's hint)."""

    def name(self) -> str:
        """Action name."""
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Returns a SlotSet when the language is known and differs from the slot."""
        text = (tracker.latest_message or {}).get("text")
        changed = language_change(
            text, message_metadata(tracker), tracker.get_slot(SLOT_LANGUAGE)
        )
        return [SlotSet(SLOT_LANGUAGE, changed)] if changed else []
