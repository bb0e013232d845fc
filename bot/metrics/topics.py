"""A contact's topic, derived from the intents it contained (``data/topics.yml``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import yaml

TOPICS_FILE = Path(__file__).resolve().parents[2] / "data" / "topics.yml"

NO_TOPIC = "none"  # topics.yml's value for intents that say nothing about a need
OTHER = "other"  # a contact without any topic
GREETING = "greeting"
HUMAN_AGENT = "human_agent"
# Topics that do not name what the customer needed: used only if nothing better is there.
WEAK_TOPICS = (HUMAN_AGENT, GREETING)
FALLBACK_INTENT = "nlu_fallback"
CLOSING_INTENTS = ("thanks", "goodbye")


@lru_cache(maxsize=4)
def load_topics(path: Path = TOPICS_FILE) -> Mapping[str, str]:
    """Read the intent -> topic map.

    Args:
        path: The YAML file (``intent: topic`` lines).

    Returns:
        The map; an unreadable file gives an empty map (every contact is ``other``).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def topic_of(intents: Iterable[str], topics: Mapping[str, str] | None = None) -> str:
    """The topic of a contact: the first need it expressed.

    The first intent whose topic names a need (not greeting, not "a person") wins;
    failing that, ``human_agent``, then ``greeting``; a contact with none of them is
    ``other``.

    Args:
        intents: The contact's intents, oldest first.
        topics: Intent -> topic map (default: ``data/topics.yml``).

    Returns:
        The topic name.
    """
    mapping = load_topics() if topics is None else topics
    seen: list[str] = []
    for intent in intents:
        topic = mapping.get(intent)
        if not topic or topic == NO_TOPIC:
            continue
        if topic not in WEAK_TOPICS:
            return topic
        seen.append(topic)
    for weak in WEAK_TOPICS:
        if weak in seen:
            return weak
    return OTHER


def is_need(topic: str | None) -> bool:
    """Whether a topic names something the customer needed served."""
    return bool(topic) and topic not in (*WEAK_TOPICS, OTHER, NO_TOPIC)
