"""Event classes found by name from a table.

Deserialising an event (`Event.resolve_by_type`, for every event read from the tracker
store or sent by the action server) walked the whole class tree of `Event` each time (~4%
of a Rasa server's CPU). The table is rebuilt when a name is missing (a class imported
later); the special cases (unknown names, defaults) stay Rasa's.
"""

from __future__ import annotations

from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from deploy.rasa_patches.patching import Patch

_original_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """`Event.resolve_by_type` from a table (the first class with the name, as Rasa's)."""
    found = _event_classes.get(type_name)
    if found is None:
        _event_classes.clear()
        for cls in all_subclasses(Event):
            _event_classes.setdefault(cls.type_name, cls)
        found = _event_classes.get(type_name)
    return found or _original_resolve_by_type(type_name, default)


PATCHES = (
    Patch(Event, "resolve_by_type", staticmethod(_resolve_by_type)),
)
