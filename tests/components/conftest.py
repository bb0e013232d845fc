"""Builds the custom NLU components the way Rasa's graph does, without training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

C = TypeVar("C", bound=GraphComponent)


@pytest.fixture()
def create_component(tmp_path: Path) -> Callable[[type[C], dict[str, Any]], C]:
    """Calls ``cls.create`` with the class's default config updated by ``config``."""

    def create(cls: type[C], config: dict[str, Any]) -> C:
        return cls.create(  # type: ignore[return-value]
            {**cls.get_default_config(), **config},
            LocalModelStorage(tmp_path),
            Resource(cls.__name__),
            ExecutionContext(GraphSchema({}), "test-model"),
        )

    return create


def message(text: str | None) -> Message:
    """A user message as the NLU pipeline sees it."""
    return Message(data={"text": text} if text is not None else {})
