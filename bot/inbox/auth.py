"""Agent login, sessions and the guard every inbox route goes through."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from sanic import Request
from sanic.response import HTTPResponse

from bot.errors import Forbidden, TooManyRequests, Unauthorized
from bot.inbox.passwords import DUMMY_HASH, verify_password
from bot.store.agents import AgentStore
from bot.store.models import utcnow
from bot.store.records import AgentRecord

SESSION_COOKIE = "inbox_session"
MAX_FAILURES = 8
FAILURE_WINDOW = 600.0

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


class LoginThrottle:
    """Counts recent failed logins per username and per client address."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        """Configure the limit: ``limit`` failures within ``window`` seconds."""
        self._limit = limit
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def check(self, *keys: str) -> None:
        """Raise if any key has too many recent failures.

        Raises:
            TooManyRequests: the limit is reached.
        """
        now = time.monotonic()
        for key in keys:
            times = self._failures.get(key)
            if not times:
                continue
            while times and now - times[0] > self._window:
                times.popleft()
            if len(times) >= self._limit:
                raise TooManyRequests()

    def fail(self, *keys: str) -> None:
        """Record a failure for each key."""
        now = time.monotonic()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def clear(self, *keys: str) -> None:
        """Forget failures after a successful login."""
        for key in keys:
            self._failures.pop(key, None)


class InboxAuth:
    """Logs agents in and out and finds the agent of a request."""

    def __init__(
        self,
        agents: AgentStore,
        secret: str,
        session_hours: float,
        cookie_secure: bool = False,
    ) -> None:
        """Configure sessions.

        Args:
            agents: Account store.
            secret: ``AGENT_SESSION_SECRET``; stored session keys are HMACs of the
                tokens under it, so a copy of the database alone opens no session.
            session_hours: Session lifetime.
            cookie_secure: Send the cookie only over HTTPS.
        """
        self._agents = agents
        self._secret = secret.encode("utf-8")
        self._lifetime = timedelta(hours=session_hours)
        self._secure = cookie_secure
        self.throttle = LoginThrottle()

    def _key(self, token: str) -> str:
        return hmac.new(self._secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    async def login(self, username: str, password: str, client: str) -> tuple[AgentRecord, str]:
        """Check credentials and start a session.

        Args:
            username: Account name.
            password: Clear password.
            client: The caller's address (for throttling).

        Returns:
            The agent and the new session token.

        Raises:
            TooManyRequests: too many recent failures for this name or address.
            Unauthorized: wrong name or password (the same answer for both).
        """
        keys = (f"user:{username.lower()}", f"addr:{client}")
        self.throttle.check(*keys)
        found = await self._agents.credentials(username)
        stored = found[1] if found else DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, stored)
        if not found or not ok:
            self.throttle.fail(*keys)
            raise Unauthorized("Wrong username or password.")
        self.throttle.clear(*keys)
        token = secrets.token_urlsafe(32)
        await self._agents.start_session(found[0].id, self._key(token), utcnow() + self._lifetime)
        return found[0], token

    @staticmethod
    def token_of(request: Request) -> str | None:
        """Return the session token of a request (bearer header or cookie)."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip() or None
        return request.cookies.get(SESSION_COOKIE) or None

    async def agent_of(self, request: Request) -> AgentRecord | None:
        """Return the logged-in agent of a request, or None."""
        token = self.token_of(request)
        if not token or len(token) > 256:
            return None
        return await self._agents.session_agent(self._key(token))

    async def logout(self, request: Request) -> None:
        """End the request's session, if any."""
        token = self.token_of(request)
        if token:
            await self._agents.end_session(self._key(token))

    def set_cookie(self, response: HTTPResponse, token: str) -> None:
        """Put the session token in an HttpOnly, SameSite=Strict cookie."""
        response.cookies[SESSION_COOKIE] = token
        cookie = response.cookies[SESSION_COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = int(self._lifetime.total_seconds())
        if self._secure:
            cookie["secure"] = True

    @staticmethod
    def clear_cookie(response: HTTPResponse) -> None:
        """Remove the session cookie."""
        response.cookies[SESSION_COOKIE] = ""
        response.cookies[SESSION_COOKIE]["max-age"] = 0
        response.cookies[SESSION_COOKIE]["path"] = "/"


def require_agent(supervisor: bool = False) -> Callable[[Handler], Handler]:
    """Guard a route: 401 without a session, 403 for agents on supervisor routes.

    The agent is put on ``request.ctx.agent``.
    """

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            auth: InboxAuth = request.app.ctx.inbox_auth
            agent = await auth.agent_of(request)
            if agent is None:
                raise Unauthorized()
            if supervisor and not agent.is_supervisor:
                raise Forbidden()
            request.ctx.agent = agent
            return await handler(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
