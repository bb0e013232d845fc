"""Per-conversation locks shared by several gateway instances through Redis.

`KeyedLocks` serialises the work on one conversation inside one process: storing a
customer message and getting the bot's answer, handoff state changes. With several gateway
instances, two messages of one conversation could reach two instances at once; then each
instance's lock alone would let both run together and the bot could answer them out of
order. `SharedKeyedLocks` takes the process-local lock first (so one instance never
queues on Redis against itself), then a Redis lock on the same key, so the conversation's
work runs one message at a time across every instance, in the order the messages were
stored.

The Redis lock expires by itself (`lease_seconds`) if an instance dies holding it. While
Redis is unreachable the process-local lock alone is used (degraded, logged).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from bot.transcript import KeyedLocks

logger = logging.getLogger(__name__)

PREFIX = "shop:gateway:conversation-lock:"


class SharedKeyedLocks(KeyedLocks):
    """`KeyedLocks` that also hold a Redis lock per key."""

    def __init__(
        self, redis_url: str, lease_seconds: float = 120.0, wait_seconds: float = 90.0
    ) -> None:
        """Configure the locks (Redis is contacted on first use).

        Args:
            redis_url: ``redis://[:password@]host:port/db``.
            lease_seconds: How long a lock lives if its holder never releases it.
            wait_seconds: How long to wait for another instance before going on without.
        """
        super().__init__()
        self._redis = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the key's lock in this process and across instances."""
        async with super().hold(key):
            lock = self._redis.lock(
                PREFIX + key,
                timeout=self.lease_seconds,
                sleep=0.05,
                blocking_timeout=self.wait_seconds,
            )
            acquired = False
            try:
                acquired = bool(await lock.acquire())
                if not acquired:
                    logger.warning("conversation lock busy for %.0fs: going on", self.wait_seconds)
            except (RedisError, OSError) as exc:
                logger.warning("Redis unavailable for conversation locks (%s)", type(exc).__name__)
            try:
                yield
            finally:
                if acquired:
                    try:
                        await lock.release()
                    except (LockError, RedisError, OSError):
                        pass  # expired or Redis gone: the lease ends it anyway

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.close()


def make_locks(redis_url: str | None) -> KeyedLocks:
    """Shared locks when Redis is configured, else process-local ones."""
    return SharedKeyedLocks(redis_url) if redis_url else KeyedLocks()
