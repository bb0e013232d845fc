"""Policy and FAQ answers from knowledge_base/*.yml, which a shop edits without code.

Each entry names the intents it answers, keywords in both languages that single it out
among entries of the same intent, and the answer in both languages. The file is re-read
when it changes, so an edit needs no restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import language, latest_intent

KNOWLEDGE_BASE = Path(
    os.environ.get(
        "KNOWLEDGE_BASE_DIR", Path(__file__).resolve().parent.parent / "knowledge_base"
    )
)


@dataclass(frozen=True)
class Entry:
    """One answer of the knowledge base."""

    id: str
    intents: tuple[str, ...]
    keywords: tuple[str, ...]
    answer_zh: str
    answer_en: str

    def answer(self, lang: str) -> str:
        """The answer in `lang`."""
        return self.answer_en if lang == "en" else self.answer_zh

    def score(self, text: str) -> int:
        """How many of the entry's keywords the message contains."""
        lowered = text.lower()
        return sum(1 for keyword in self.keywords if keyword.lower() in lowered)


class KnowledgeBase:
    """The entries of all YAML files in a folder, reloaded when a file changes."""

    def __init__(self, folder: Path = KNOWLEDGE_BASE) -> None:
        self.folder = folder
        self._stamp: tuple[tuple[str, float], ...] = ()
        self._entries: list[Entry] = []

    def entries(self) -> list[Entry]:
        """All entries, re-read if any file changed since the last call."""
        files = sorted(self.folder.glob("*.yml"))
        stamp = tuple((f.name, f.stat().st_mtime) for f in files)
        if stamp != self._stamp:
            self._entries = [entry for f in files for entry in _read(f)]
            self._stamp = stamp
        return self._entries

    def best(self, intent: str | None, text: str) -> Entry | None:
        """The entry for `intent` whose keywords best match `text` (first one on ties)."""
        candidates = [e for e in self.entries() if intent in e.intents]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (e.score(text), -candidates.index(e)))


def _read(path: Path) -> list[Entry]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    entries = []
    for item in data:
        keywords = item.get("keywords") or {}
        entries.append(
            Entry(
                id=str(item["id"]),
                intents=tuple(item.get("intents") or ()),
                keywords=tuple((keywords.get("zh") or []) + (keywords.get("en") or [])),
                answer_zh=str(item["answer"]["zh"]).strip(),
                answer_en=str(item["answer"]["en"]).strip(),
            )
        )
    return entries


class ActionAnswerFaq(Action):
    """Answers a policy question from the knowledge base."""

    def __init__(self, knowledge_base: KnowledgeBase | None = None) -> None:
        self.knowledge_base = knowledge_base or KnowledgeBase()

    def name(self) -> str:
        """Action name."""
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Sends the best matching answer, or the out-of-scope reply when none fits."""
        text = (tracker.latest_message or {}).get("text") or ""
        entry = self.knowledge_base.best(latest_intent(tracker), text)
        if entry is None:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        dispatcher.utter_message(response="utter_faq", answer=entry.answer(language(tracker)))
        return []
