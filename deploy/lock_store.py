"""Rasa's Redis lock store, with one Redis key per held lock and a degraded mode for when
Redis is unavailable.

Rasa serialises the messages of one conversation with a lock, shared by several Rasa
servers through Redis: that is what keeps a conversation's messages in order when they
reach different servers. Rasa's `RedisLockStore` keeps a JSON ticket queue per conversation
and reads and rewrites it ~5 times per message (blocking the event loop on each round trip,
~7% of a Rasa server's CPU under load). This store holds the lock as one Redis key instead:
`SET key token NX PX lifetime` to take it (retried every `POLL_SECONDS` while someone else
holds it) and a compare-and-delete script to give it back; two round trips per message,
on an asyncio client, so the server goes on with other conversations meanwhile.
A server that dies while holding a lock leaves the key to expire after the lock lifetime,
as Rasa's tickets do. Waiters are not served first come first served as Rasa's tickets
are; the gateway already sends one conversation's messages one at a time, so at most one
message per conversation waits. The keys (`<prefix>:lock:mutex:<conversation>`) differ
from Rasa's ticket keys: do not mix this store and `type: redis` in one deployment.

Rasa's own class fails every message while Redis is down (the REST webhook then answers an
empty list). This one keeps going on a per-process in-memory lock instead, logs the switch,
and goes back to Redis as soon as it answers again (checked at most every `retry_seconds`).
In degraded mode two servers could work on the same conversation at once; the gateway
still sends one conversation's messages one at a time, so in practice only the
cross-server guarantee is weakened.

Used from `endpoints.prod.yml` as `type: deploy.lock_store.FailoverRedisLockStore`, with the
same keys as Rasa's `type: redis` (url, port, db, password, key_prefix, socket_timeout) plus
`retry_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_SOCKET_TIMEOUT = 2.0
DEFAULT_RETRY_SECONDS = 5.0
POLL_SECONDS = 0.02  # between attempts to take a held lock
# Deletes the lock only if it still holds this holder's token (not a later holder's).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _redis_kwargs(raw: dict[str, Any]) -> dict[str, Any]:
    """Endpoint values arrive as strings from `${VAR}` substitution: normalise them."""
    kwargs = {key: value for key, value in raw.items() if key != "retry_seconds"}
    for key in ("password", "username", "key_prefix"):
        if kwargs.get(key) in ("", None):
            kwargs.pop(key, None)
    kwargs["socket_timeout"] = float(kwargs.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT)
    return kwargs


def _async_client(client: redis.Redis) -> aioredis.Redis:
    """An asyncio client to the server, database and credentials of ``client``."""
    pool = client.connection_pool
    settings = pool.connection_kwargs
    tls = {k: settings[k] for k in ("ssl_certfile", "ssl_keyfile", "ssl_ca_certs") if k in settings}
    return aioredis.Redis(
        host=settings.get("host", "localhost"),
        port=settings.get("port", 6379),
        db=settings.get("db", 0),
        username=settings.get("username"),
        password=settings.get("password"),
        socket_timeout=settings.get("socket_timeout"),
        socket_connect_timeout=settings.get("socket_connect_timeout"),
        ssl=issubclass(pool.connection_class, redis.SSLConnection),
        **tls,
    )


class FailoverRedisLockStore(RedisLockStore):
    """`RedisLockStore` that falls back to an in-memory lock while Redis is down."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        """Connects lazily to Redis as configured by the `lock_store` endpoint.

        Args:
            endpoint_config: The `lock_store` section of the endpoints file.
        """
        raw = dict(endpoint_config.kwargs or {})
        self.retry_seconds = float(raw.get("retry_seconds") or DEFAULT_RETRY_SECONDS)
        super().__init__(host=endpoint_config.url or "localhost", **_redis_kwargs(raw))
        self.fallback = InMemoryLockStore()
        self._down_until = 0.0
        # Rasa's client (`self.red`) blocks the event loop for each round trip; the lock is
        # taken and given back on an asyncio client with the same settings instead.
        self.ared = _async_client(self.red)
        self._release = self.ared.register_script(_RELEASE)

    @property
    def degraded(self) -> bool:
        """True while locks are kept in memory because Redis did not answer."""
        return time.monotonic() < self._down_until

    def _went_down(self, exc: Exception) -> None:
        logger.warning(
            "Redis lock store unavailable (%s): per-process locks for %.0fs",
            type(exc).__name__,
            self.retry_seconds,
        )
        self._down_until = time.monotonic() + self.retry_seconds

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        """Holds the conversation's lock in Redis (in memory while Redis is down).

        Args:
            conversation_id: The conversation.
            lock_lifetime: Seconds after which a lock its holder never gave back expires.
            wait_time_in_seconds: Most seconds between attempts (Rasa passes 1; held
                locks are retried every `POLL_SECONDS`).

        Raises:
            LockError: the lock stayed taken for longer than its lifetime.
        """
        key = f"{self.key_prefix}mutex:{conversation_id}"
        token = uuid.uuid4().hex
        poll = min(wait_time_in_seconds, POLL_SECONDS)
        taken = await self._take(key, token, lock_lifetime, poll)
        if not taken:
            async with self.fallback.lock(conversation_id, lock_lifetime, poll) as held:
                yield held
            return
        try:
            yield TicketLock(conversation_id, deque())
        finally:
            try:
                await self._release(keys=[key], args=[token])
            except (redis.exceptions.RedisError, OSError):
                pass  # Redis went away meanwhile: the key expires with its lifetime

    async def _take(self, key: str, token: str, lifetime: float, poll: float) -> bool:
        """Takes the lock in Redis; False when Redis is down (use the in-memory lock)."""
        deadline = time.monotonic() + 2 * lifetime
        while not self.degraded:
            try:
                if await self.ared.set(key, token, nx=True, px=int(lifetime * 1000)):
                    return True
            except (redis.exceptions.RedisError, OSError) as exc:
                self._went_down(exc)
                break
            if time.monotonic() > deadline:
                raise LockError(f"The lock '{key}' stayed taken for {2 * lifetime:.0f}s.")
            await asyncio.sleep(poll)
        return False
