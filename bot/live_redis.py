"""Live delivery shared by several gateway instances through Redis pub/sub.

A customer's WebSocket and an agent's inbox may be held by different gateway instances.
`RedisLiveHub` publishes each push on the Redis channel of its audience, and an instance
subscribes only to the audiences it holds connections of: `<channel>:customer:<id>` while
it holds a socket of that conversation, `<channel>:agents` while it holds an inbox, and
`<channel>:instances` (signals) always. A push is delivered once per connection, by the
instance that holds it (its own pushes come back through Redis too, so order is kept).
Pushes go out through one publisher task, in the order they were made; whatever piled up
meanwhile goes out as one Redis message per channel (a JSON list; a single object is still
understood), all in one round trip. A customer message makes about ten pushes (typing,
the message and each reply, to the customer and to the inboxes). Sending them all on one
channel made every instance receive and parse every push of every other instance: the
work grew with the square of the instances, and was ~10% of a gateway's CPU with two.

Subscribing waits for Redis's confirmation, so a connection gets every push made after
`add_customer`/`add_agent` returns; the socket then reads what it missed from the store.
While Redis is unreachable the hub delivers to its own connections only (degraded: a
connection held by another instance misses the push until the client resumes from its last
message id on reconnect) and reconnects with back-off, subscribing again to what it needs.
`REDIS_URL` switches it on; without it the gateway uses the in-memory `LiveHub` (one
instance).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.live import AgentPeer, LiveHub, Peer, keep

logger = logging.getLogger(__name__)

CHANNEL = "shop:gateway:live"
MAX_QUEUED = 10_000
MAX_BATCH = 500  # pushes per flush
CONFIRM_SECONDS = 2.0  # waiting for Redis to confirm a subscription


class RedisLiveHub(LiveHub):
    """`LiveHub` whose pushes reach the connections of every gateway instance."""

    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        """Configure the hub (nothing connects until :meth:`start`).

        Args:
            redis_url: ``redis://[:password@]host:port/db``.
            channel: Prefix of the pub/sub channels shared by the gateway instances.
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
        self._pubsub: Any = None  # the subscriber's connection while it is up
        self._listening: set[str] = set()  # channels Redis confirmed on that connection
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._changing = asyncio.Lock()  # one subscription change at a time, in order

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

    # --- audiences and their channels ---------------------------------------------------

    def _customer_channel(self, conversation_id: str) -> str:
        return f"{self.channel}:customer:{conversation_id}"

    @property
    def _agents_channel(self) -> str:
        return f"{self.channel}:agents"

    @property
    def _instances_channel(self) -> str:
        return f"{self.channel}:instances"

    def _channel_of(self, message: dict[str, Any]) -> str:
        if message.get("to") == "customer":
            return self._customer_channel(str(message.get("conversation_id")))
        if message.get("to") == "agents":
            return self._agents_channel
        return self._instances_channel

    def _wanted(self) -> set[str]:
        """The channels this instance has connections (or signal handlers) for (all of
        them, when the subscriber connects)."""
        wanted = {self._instances_channel, *map(self._customer_channel, self._customers)}
        if self._agents:
            wanted.add(self._agents_channel)
        return wanted

    async def add_customer(self, conversation_id: str, peer: Peer) -> None:
        """Deliver a conversation's pushes to ``peer``, from every instance."""
        await super().add_customer(conversation_id, peer)
        await self._follow_customer(conversation_id)

    def remove_customer(self, conversation_id: str, peer: Peer) -> None:
        """Stop delivering to ``peer`` (and listening, once no socket is left)."""
        super().remove_customer(conversation_id, peer)
        keep(asyncio.create_task(self._follow_customer(conversation_id)))

    async def add_agent(self, peer: AgentPeer) -> None:
        """Register an inbox connection; it gets the inbox pushes of every instance."""
        await super().add_agent(peer)
        await self._follow(self._agents_channel, lambda: bool(self._agents))

    def remove_agent(self, peer: AgentPeer) -> None:
        """Forget an inbox connection."""
        super().remove_agent(peer)
        keep(asyncio.create_task(self._follow(self._agents_channel, lambda: bool(self._agents))))

    def _follow_customer(self, conversation_id: str) -> Awaitable[None]:
        return self._follow(
            self._customer_channel(conversation_id), lambda: conversation_id in self._customers
        )

    async def _follow(self, channel: str, needed: Callable[[], bool]) -> None:
        """Subscribes to or leaves ``channel`` as ``needed()`` says when its turn comes
        (changes are made one at a time, each on the connections held by then)."""
        async with self._changing:
            pubsub = self._pubsub
            if pubsub is None:
                return  # Redis is down: the subscriber takes what is wanted when it is back
            wanted = needed()
            if wanted == (channel in self._listening):
                return
            try:
                if not wanted:
                    self._listening.discard(channel)
                    await pubsub.unsubscribe(channel)
                    return
                confirmed = asyncio.get_running_loop().create_future()
                self._confirmations[channel] = confirmed
                await pubsub.subscribe(channel)
                await asyncio.wait_for(confirmed, CONFIRM_SECONDS)
            except (RedisError, OSError, asyncio.TimeoutError) as exc:
                # The subscriber notices a broken connection and subscribes afresh.
                logger.warning("Redis subscription to %s failed (%s)", channel, type(exc).__name__)
            finally:
                self._confirmations.pop(channel, None)

    # --- pushes ----------------------------------------------------------------------------

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
            by_channel: dict[str, list[dict[str, Any]]] = {}
            for message in batch:  # in order within each channel
                by_channel.setdefault(self._channel_of(message), []).append(message)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, messages in by_channel.items():
                        pipe.publish(channel, json.dumps(messages, ensure_ascii=False, default=str))
                    await pipe.execute()
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
                async with self._changing:
                    self._listening = set(self._wanted())
                    await pubsub.subscribe(*self._listening)
                    self._pubsub = pubsub
                self.subscribed.set()
                logger.info("live delivery shared through Redis (instance %s)", self.instance)
                delay = 0.5
                while True:
                    item = await pubsub.get_message(timeout=5.0)
                    if item is None:
                        continue
                    if item.get("type") == "subscribe":
                        self._confirmed(item.get("channel"))
                    if item.get("type") != "message":
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
                self._pubsub = None
                self._listening = set()
                try:
                    await pubsub.close()
                except (RedisError, OSError):
                    pass

    def _confirmed(self, channel: Any) -> None:
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        self._listening.add(name)
        waiting = self._confirmations.get(name)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)


def make_live_hub(redis_url: str | None) -> LiveHub:
    """The shared hub when Redis is configured, else the in-memory one."""
    return RedisLiveHub(redis_url) if redis_url else LiveHub()
