"""Tells Chinese from English messages and records the answer as a ``language`` entity.

The bot is Chinese-first. Any Han character (simplified or traditional) makes a message
Chinese, so mixed messages such as "我的order到哪了" are ``zh``. A message is English
when its words of Latin letters hold at least two letters and at least as many letters
as words in other scripts; codes that mix letters and digits do not count. Messages
with neither (a bare order number, phone digits, emoji, an ``/intent`` payload from a
button) get no ``language`` entity, so the dialogue keeps the language it already had.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

LANGUAGE_ENTITY = "language"

# CJK Unified Ideographs and their extensions plus compatibility ideographs: this covers
# simplified and traditional characters alike.
_HAN = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f]"
)
_LATIN_WORD = re.compile(r"^[A-Za-z\u00c0-\u024f]+$")
_WORD = re.compile(r"\w+")
# Rasa's shortcut syntax for buttons: "/intent" or "/intent{...}".
_INTENT_PAYLOAD = re.compile(r"^\s*/\w")


def detect_language(text: Optional[Text]) -> Optional[Text]:
    """Returns ``"zh"``, ``"en"`` or ``None`` when the text does not tell.

    Words that mix letters and digits (``DD202611010001``, ``SF1234567890``) are codes,
    not language, and are ignored.
    """
    if not text or _INTENT_PAYLOAD.match(text):
        return None
    if _HAN.search(text):
        return "zh"
    latin = 0
    other = 0
    for word in _WORD.findall(text):
        if _LATIN_WORD.match(word):
            latin += len(word)
        elif word.isalpha():
            other += len(word)
    if latin >= 2 and latin >= other:
        return "en"
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds ``{"entity": "language", "value": "zh" | "en"}`` spanning the whole text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {"entity_name": LANGUAGE_ENTITY}

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Creates the detector."""
        self._entity_name: Text = config.get("entity_name") or LANGUAGE_ENTITY

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Creates a new component (see parent class for full docstring)."""
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the language entity to every message whose language is clear."""
        for message in messages:
            text = message.get(TEXT)
            language = detect_language(text)
            if language is None:
                continue
            entity: Dict[Text, Any] = {
                ENTITY_ATTRIBUTE_TYPE: self._entity_name,
                ENTITY_ATTRIBUTE_VALUE: language,
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: len(text),
            }
            self.add_extractor_name([entity])
            message.set(
                ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True
            )
        return messages
