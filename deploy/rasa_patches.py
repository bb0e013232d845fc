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
import copy
import weakref
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _EventwiseCheck:
    """The response schema checked one event type at a time.

    Each event must match exactly one branch of the schema's `oneOf`, and every branch
    pins `event` to its own constant, so an event is valid exactly when the branch of
    its own type accepts it: no need to try all 23 branches (~0.9 ms per response, most
    of the validation's cost).
    """

    outer: Any  # the schema with the `oneOf` of the events taken out
    branches: dict[str, Any]  # event type -> validator of its branch

    def is_valid(self, result: Any) -> bool:
        if not self.outer.is_valid(result):
            return False
        for event in result.get("events") or []:
            kind = event.get("event")
            branch = self.branches.get(kind) if isinstance(kind, str) else None
            if branch is None or not branch.is_valid(event):
                return False
        return True


@lru_cache(maxsize=1)
def _eventwise_check() -> _EventwiseCheck | None:
    """The per-event-type check, or None if Rasa's schema is not shaped as it expects."""
    schema = copy.deepcopy(RemoteAction.action_response_format_spec())
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    branches = items.pop("oneOf", None) or []
    kinds = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
    if not kinds or None in kinds or len(set(kinds)) != len(kinds):
        return None
    validator_class = validators.validator_for(schema)
    return _EventwiseCheck(
        outer=validator_class(schema),
        branches={kind: validator_class(b) for kind, b in zip(kinds, branches, strict=True)},
    )


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` without re-checking the schema each call."""
    validator = _response_validator()
    fast = _eventwise_check()
    # `best_match` walks every error branch of the schema's `oneOf`s even for a valid
    # response; only a response that fails the check pays for finding its error.
    if fast.is_valid(result) if fast is not None else validator.is_valid(result):
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

