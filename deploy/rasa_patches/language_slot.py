"""The `language` slot's custom mapping run inside the Rasa server.

`action_detect_language` runs after every customer message; as an action server call it
sent the whole tracker over HTTP each time. It is a pure function of the message
(`actions.language.language_change`, which the action server's version runs too), so the
Rasa server runs it itself; every other custom slot mapping still goes to the action
server.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions.action import ActionExtractSlots
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from actions.constants import SLOT_LANGUAGE
from actions.language import ActionDetectLanguage, language_change
from deploy.rasa_patches.patching import Patch

_original_run_custom_action = ActionExtractSlots._run_custom_action
DETECT_LANGUAGE = ActionDetectLanguage().name()


async def _run_custom_action(
    self: ActionExtractSlots,
    custom_action: str,
    output_channel: Any,
    nlg: Any,
    tracker: DialogueStateTracker,
    domain: Any,
) -> list[Event]:
    """Runs the language slot mapping in process; any other one as Rasa does."""
    if custom_action != DETECT_LANGUAGE:
        return await _original_run_custom_action(  # type: ignore[no-any-return]
            self, custom_action, output_channel, nlg, tracker, domain
        )
    message = tracker.latest_message
    changed = language_change(
        message.text if message else None,
        message.metadata if message else None,
        tracker.get_slot(SLOT_LANGUAGE),
    )
    return [SlotSet(SLOT_LANGUAGE, changed)] if changed else []


PATCHES = (
    Patch(ActionExtractSlots, "_run_custom_action", _run_custom_action),
)
