"""Fixes to Rasa 3.6's hot path, installed by `deploy.rasa_main` before the server starts.

Measured with py-spy under load (docs/benchmarks.md): Rasa validates every action server
response with `jsonschema.validate`, which re-checks the (constant, large) response schema
against its meta-schema on every call. That check was ~75% of the Rasa server's CPU in a
conversation with custom actions. The patch validates against a validator built (and its
schema checked) once; the result and the error raised on a bad response are the same.

Rasa also opens a new HTTP client session, and so a new TCP connection, for every request
to an endpoint (`EndpointConfig.request`: `async with self.session()`): connecting was
~10% of a Rasa server's CPU, and the action server paid for accepting each one. The
patch hands `request` one long-lived session per event loop and endpoint configuration,
whose pooled connections are kept alive for less time than the action server (Sanic,
5 s) keeps them, so the client never reuses a connection the server is closing. A server
that died closes its sockets, and aiohttp drops closed connections before reusing one.

The `language` slot's custom mapping (`action_detect_language`) runs after every message;
as an action server call it sent the whole tracker over HTTP each time. It is a pure
function of the message (`actions.language.language_change`), so the Rasa server runs it
itself; every other custom slot mapping still goes to the action server.
"""

from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache
from typing import Any

import aiohttp
from jsonschema import exceptions, validators
from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

from actions.constants import SLOT_LANGUAGE
from actions.language import ActionDetectLanguage, language_change

KEEP_ALIVE_SECONDS = 2.0  # below the action server's keep-alive timeout (Sanic: 5 s)
# event loop -> (headers, basic auth) -> its session; a closed loop's sessions go with it
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, aiohttp.ClientSession]]
_sessions = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` without re-checking the schema each call."""
    validator = _response_validator()
    # `best_match` walks every error branch of the schema's `oneOf`s even for a valid
    # response (~5% of a Rasa server's CPU); `is_valid` stops at the first match.
    if validator.is_valid(result):
        return True
    error = exceptions.best_match(validator.iter_errors(result))
    if error is None:
        return True
    # Rasa's own wording for a bad response (rasa/core/actions/action.py).
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid."
    )
    raise error


class _KeptSession:
    """`async with` over a long-lived session: entering returns it, leaving keeps it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        return None


def _session(self: EndpointConfig) -> _KeptSession:
    """`EndpointConfig.session` sharing one session (and its connections) per config."""
    basic = self.basic_auth or {}
    key = (tuple(sorted(self.headers.items())), tuple(sorted(basic.items())))
    sessions = _sessions.setdefault(asyncio.get_running_loop(), {})
    session = sessions.get(key)
    if session is None or session.closed:
        # Rasa's own session settings, plus the kept-alive connector.
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=aiohttp.BasicAuth(basic["username"], basic["password"]) if basic else None,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_SECONDS),
        )
        sessions[key] = session
    return _KeptSession(session)


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


def install() -> None:
    """Installs the patches (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = _session  # type: ignore[assignment,method-assign]
    ActionExtractSlots._run_custom_action = _run_custom_action  # type: ignore[method-assign]


def installed() -> bool:
    """Whether `install` ran in this process."""
    return (
        RemoteAction._validate_action_result is _validate_action_result
        and EndpointConfig.session is _session
        and ActionExtractSlots._run_custom_action is _run_custom_action
    )

