"""Keeps one entity per span when several extractors found the same thing.

Order numbers, tracking numbers and phone digits are found by RegexEntityExtractor; DIET
learns them too from the same annotations and often reports the same span again. Two
copies of one entity would set list-valued slots twice and count as a wrong prediction in
test stories, so this component keeps the first extractor's entity in `preferred` order
for each overlapping span of the same type.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class EntityDeduplicator(GraphComponent):
    """Drops entities that overlap an entity of the same type from a preferred extractor."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Extractors in order of trust."""
        return {"preferred": ["RegexEntityExtractor", "SpacyPatternExtractor", "DIETClassifier"]}

    def __init__(self, config: dict[str, Any]) -> None:
        """Stores the extractor ranking."""
        self._rank = {name: i for i, name in enumerate(config.get("preferred") or [])}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityDeduplicator:
        """Creates the component."""
        return cls({**cls.get_default_config(), **config})

    def _key(self, entity: dict[str, Any]) -> int:
        return self._rank.get(str(entity.get("extractor")), len(self._rank))

    def deduplicate(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The entities without lower-ranked overlapping copies, in text order."""
        kept: list[dict[str, Any]] = []
        for entity in sorted(entities, key=self._key):
            overlaps = any(
                other["entity"] == entity["entity"]
                and other.get("start", 0) < entity.get("end", 0)
                and entity.get("start", 0) < other.get("end", 0)
                for other in kept
            )
            if not overlaps:
                kept.append(entity)
        return sorted(kept, key=lambda e: (e.get("start", 0), e.get("end", 0)))

    def process(self, messages: list[Message]) -> list[Message]:
        """Deduplicates the entities of each message."""
        for message in messages:
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, self.deduplicate(entities), add_to_output=True)
        return messages
