"""Rasa's Redis lock store with a degraded mode for when Redis is unavailable.

Rasa serialises the messages of one conversation with a ticket lock. Several Rasa servers
share it through Redis (`RedisLockStore`): that is what keeps a conversation's messages in
order when they reach different servers. Rasa's own class fails every message while Redis
is down (the REST webhook then answers an empty list). This subclass keeps going on a
per-process in-memory lock instead, logs the switch, and goes back to Redis as soon as it
answers again (checked at most every `retry_seconds`). In degraded mode two servers could
work on the same conversation at once; the gateway still sends one conversation's
messages one at a time, so in practice only the cross-server guarantee is weakened.

Used from `endpoints.prod.yml` as `type: deploy.lock_store.FailoverRedisLockStore`, with the
same keys as Rasa's `type: redis` (url, port, db, password, key_prefix, socket_timeout) plus
`retry_seconds`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_SOCKET_TIMEOUT = 2.0
DEFAULT_RETRY_SECONDS = 5.0


def _redis_kwargs(raw: dict[str, Any]) -> dict[str, Any]:
    """Endpoint values arrive as strings from `${VAR}` substitution: normalise them."""
    kwargs = {key: value for key, value in raw.items() if key != "retry_seconds"}
    for key in ("password", "username", "key_prefix"):
        if kwargs.get(key) in ("", None):
            kwargs.pop(key, None)
    kwargs["socket_timeout"] = float(kwargs.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT)
    return kwargs


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

    @property
    def degraded(self) -> bool:
        """True while locks are kept in memory because Redis did not answer."""
        return time.monotonic() < self._down_until

    def _use(self, on_redis: Callable[[], T], in_memory: Callable[[], T]) -> T:
        if self.degraded:
            return in_memory()
        try:
            result = on_redis()
        except redis.exceptions.RedisError as exc:
            logger.warning(
                "Redis lock store unavailable (%s): per-process locks for %.0fs",
                type(exc).__name__,
                self.retry_seconds,
            )
            self._down_until = time.monotonic() + self.retry_seconds
            return in_memory()
        return result

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """Reads the lock from Redis, or from memory while Redis is down."""
        return self._use(
            lambda: super(FailoverRedisLockStore, self).get_lock(conversation_id),
            lambda: self.fallback.get_lock(conversation_id),
        )

    def delete_lock(self, conversation_id: str) -> None:
        """Deletes the lock in Redis (or in memory while Redis is down)."""
        self._use(
            lambda: super(FailoverRedisLockStore, self).delete_lock(conversation_id),
            lambda: self.fallback.delete_lock(conversation_id),
        )
        if not self.degraded:
            self.fallback.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        """Saves the lock in Redis (or in memory while Redis is down)."""
        self._use(
            lambda: super(FailoverRedisLockStore, self).save_lock(lock),
            lambda: self.fallback.save_lock(lock),
        )
