"""Kept-alive connections from Rasa to its endpoints (the action server above all).

Rasa opens a new HTTP client session, and so a new TCP connection, for every request to an
endpoint (`EndpointConfig.request`: `async with self.session()`): connecting was ~10% of a
Rasa server's CPU, and the action server paid for accepting each one. `request` gets one
long-lived session per event loop and endpoint configuration instead, whose pooled
connections are kept alive for less time than the action server (Sanic, 5 s) keeps them,
so the client never reuses a connection the server is closing. A server that died closes
its sockets, and aiohttp drops closed connections before reusing one.

Bodies are written as compact UTF-8 JSON (no spaces, Chinese not escaped to `\\uXXXX`) by
orjson (`deploy/wire_json.py`): the whole tracker goes to the action server on every call,
and this makes it about a third smaller for a Chinese conversation, with the same parsed
value, in a fifth of the standard library's time.
"""

from __future__ import annotations

import asyncio
import weakref

import aiohttp
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

from deploy import wire_json
from deploy.rasa_patches.patching import Patch

KEEP_ALIVE_SECONDS = 2.0  # below the action server's keep-alive timeout (Sanic: 5 s)
# event loop -> (headers, basic auth) -> its session; a closed loop's sessions go with it
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, aiohttp.ClientSession]]
_sessions = weakref.WeakKeyDictionary()


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
            json_serialize=wire_json.dumps,
        )
        sessions[key] = session
    return _KeptSession(session)


async def close_sessions() -> None:
    """Closes the sessions of the running event loop (tests; a Rasa server's sessions
    end with its process)."""
    for session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


PATCHES = (
    Patch(EndpointConfig, "session", _session),
)
