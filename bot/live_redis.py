"""Live delivery shared by several gateway instances through Redis pub/sub.

A customer's WebSocket and an agent's inbox may be held by different gateway instances.
`RedisLiveHub` publishes every push on one Redis channel; each instance subscribes and
delivers the pushes to the connections it holds (its own pushes included, so a push is
delivered exactly once per connection). Pushes go out through one publisher task, in the
order they were made; whatever piled up meanwhile goes out as one Redis message (a JSON
list; a single object is still understood). A customer message makes about ten pushes
(typing, the message and each reply to the customer and to the inboxes): one Redis message
each was ~17% of a gateway's CPU under load, publishing and receiving.

While Redis is unreachable the hub delivers to its own connections only (degraded: a
connection held by another instance misses the push until the client resumes from its last
message id on reconnect) and reconnects with back-off. `REDIS_URL` switches it on; without
it the gateway uses the in-memory `LiveHub` (one instance).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.live import LiveHub, keep

logger = logging.getLogger(__name__)

CHANNEL = "shop:gateway:live"
MAX_QUEUED = 10_000
MAX_BATCH = 500  # pushes per Redis message


class RedisLiveHub(LiveHub):
    """`LiveHub` whose pushes reach the connections of every gateway instance."""

    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        """Configure the hub (nothing connects until :meth:`start`).

        Args:
            redis_url: ``redis://[:password@]host:port/db``.
            channel: The pub/sub channel shared by the gateway instances.
        """
        super().__init__()
        self.channel = channel
        self.instance = uuid.uuid4().hex[:12]
        self._redis = aioredis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=15
        )
        self._outbox: asyncio.Queue[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.subscribed = asyncio.Event()

    @property
    def shared(self) -> bool:
        """True while pushes go through Redis (False: this instance's connections only)."""
        return self.subscribed.is_set()

    async def start(self) -> None:
        """Start the subscriber and the publisher (inside the running loop)."""
        self._outbox = asyncio.Queue(maxsize=MAX_QUEUED)
        self._tasks = [
            keep(asyncio.create_task(self._subscribe())),
            keep(asyncio.create_task(self._publish())),
        ]

    async def close(self) -> None:
        """Stop both tasks and close the Redis connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.subscribed.clear()
        await self._redis.close()

    def to_customer(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """Push a frame to the customer's connections on every instance."""
        self._push({"to": "customer", "conversation_id": conversation_id, "frame": frame})

    def to_agents(self, frame: dict[str, Any], watching: str | None = None) -> None:
        """Push a frame to inbox connections on every instance."""
        self._push({"to": "agents", "watching": watching, "frame": frame})

    def signal(self, name: str) -> None:
        """Tell every instance (this one included) that ``name`` happened."""
        self._push({"to": "instances", "signal": name})

    def _push(self, message: dict[str, Any]) -> None:
        if not self.shared or self._outbox is None:
            self._deliver(message)
            return
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning("live pushes pile up (Redis slow): delivering locally")
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        """Deliver a push to the connections this instance holds."""
        if message.get("to") == "instances":
            self._run_signal(str(message.get("signal")))
            return
        frame = message.get("frame")
        if not isinstance(frame, dict):
            return
        if message.get("to") == "customer":
            LiveHub.to_customer(self, str(message.get("conversation_id")), frame)
        elif message.get("to") == "agents":
            watching = message.get("watching")
            LiveHub.to_agents(self, frame, str(watching) if watching else None)

    async def _publish(self) -> None:
        assert self._outbox is not None
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < MAX_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if not self.shared:
                self._deliver_all(batch)
                continue
            try:
                await self._redis.publish(
                    self.channel, json.dumps(batch, ensure_ascii=False, default=str)
                )
            except (RedisError, OSError) as exc:
                logger.warning("Redis publish failed (%s): delivering locally", type(exc).__name__)
                self._deliver_all(batch)

    def _deliver_all(self, messages: list[Any]) -> None:
        for message in messages:
            if isinstance(message, dict):
                self._deliver(message)

    async def _subscribe(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                logger.info("live delivery shared through Redis (instance %s)", self.instance)
                delay = 0.5
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if item is None or item.get("type") != "message":
                        continue
                    try:
                        pushes = json.loads(item["data"])
                    except (ValueError, TypeError):
                        logger.warning("ignored a malformed live push")
                        continue
                    self._deliver_all(pushes if isinstance(pushes, list) else [pushes])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.subscribed.is_set():
                    logger.warning(
                        "Redis unavailable (%s): live delivery on this instance only",
                        type(exc).__name__,
                    )
                self.subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                try:
                    await pubsub.close()
                except (RedisError, OSError):
                    pass


def make_live_hub(redis_url: str | None) -> LiveHub:
    """The shared hub when Redis is configured, else the in-memory one."""
    return RedisLiveHub(redis_url) if redis_url else LiveHub()
