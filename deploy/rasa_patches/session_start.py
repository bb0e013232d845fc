"""`action_session_start` run inside the Rasa server.

Every new conversation (and every session after the expiry time) starts with
`action_session_start`. The project's version (`actions.session.ActionSessionStart`) only
carries the previous session's slots over and takes the identity from the channel's
metadata: no shop data. As an action server call it sent the tracker over HTTP and back
(~5% of a Rasa server's CPU under load); here the same class runs in process on the
tracker as the action server would have received it, and its events are read as Rasa
reads an action server's answer.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart
from deploy import wire_json
from deploy.rasa_patches.patching import Patch

_original_run = RemoteAction.run
SESSION_START = ActionSessionStart().name()


async def run(
    self: RemoteAction,
    output_channel: Any,
    nlg: Any,
    tracker: DialogueStateTracker,
    domain: Any,
) -> list[Event]:
    """Runs `action_session_start` in process; any other custom action as Rasa does."""
    if self.name() != SESSION_START:
        return await _original_run(self, output_channel, nlg, tracker, domain)
    # Through JSON as on the wire, so that slot values are exactly what the server sees.
    state = wire_json.loads(wire_json.dumps(tracker.current_state(EventVerbosity.ALL)))
    sdk_tracker = Tracker.from_dict(state)
    answer = await ActionSessionStart().run(CollectingDispatcher(), sdk_tracker, {})
    return deserialise_events(answer)


PATCHES = (Patch(RemoteAction, "run", run),)
