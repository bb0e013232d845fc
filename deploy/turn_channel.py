"""Rasa's REST channel that also says what Rasa understood (`credentials.yml`).

After every bot turn the gateway needs the message's intent and the active form (contacts,
topics, bot resolution: bot/metrics). Reading them back through Rasa's tracker API cost a
second request per message that re-read the whole conversation from the tracker store, about
a tenth of a Rasa server's CPU under load (docs/benchmarks.md). This channel is Rasa's own
REST channel (same URL `/webhooks/rest/webhook`, same body) plus one response header,
`X-Rasa-Turn: {"intent", "confidence", "active_loop"}`, taken from the tracker Rasa saves at
the end of the turn. Clients that do not read the header see the stock channel.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.rest import RestInput
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

TURN_HEADER = "X-Rasa-Turn"

# The summary of the turn being handled in this request (set by the channel, filled when
# Rasa saves the tracker). Rasa handles a REST message in the request's own task, so the
# variable set before the handler is the one the processor sees.
_current_turn: ContextVar[dict[str, Any] | None] = ContextVar("current_turn", default=None)


def summarize(tracker: DialogueStateTracker) -> dict[str, Any]:
    """The turn's intent, its confidence and the active form, as the header carries them."""
    intent = tracker.latest_message.intent if tracker.latest_message else {}
    confidence = intent.get("confidence")
    return {
        "intent": intent.get("name"),
        "confidence": round(float(confidence), 4) if confidence is not None else None,
        "active_loop": tracker.active_loop_name,
    }


def _install_capture() -> None:
    """Makes `MessageProcessor.save_tracker` fill the current request's summary."""
    original = MessageProcessor.save_tracker
    if getattr(original, "captures_turn", False):
        return

    async def save_tracker(self: MessageProcessor, tracker: DialogueStateTracker) -> None:
        holder = _current_turn.get()
        if holder is not None:
            holder.update(summarize(tracker))
        await original(self, tracker)

    save_tracker.captures_turn = True  # type: ignore[attr-defined]
    MessageProcessor.save_tracker = save_tracker  # type: ignore[method-assign]


class RestInputWithTurn(RestInput):
    """`rest`: Rasa's REST channel plus the `X-Rasa-Turn` response header."""

    @classmethod
    def name(cls) -> str:
        """Same name, so the same URL as Rasa's REST channel."""
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        """Rasa's REST blueprint with the capture around each webhook call."""
        _install_capture()
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def start_turn(request: Request) -> None:
            request.ctx.turn = {}
            _current_turn.set(request.ctx.turn)

        @blueprint.middleware("response")
        async def add_turn_header(request: Request, response: HTTPResponse) -> None:
            turn = getattr(request.ctx, "turn", None)
            if turn:
                response.headers[TURN_HEADER] = json.dumps(turn)

        return blueprint

