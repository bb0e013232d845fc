"""Open WebSocket connections and non-blocking pushes to them.

Every connection gets a bounded outbox drained by its own writer task, so one slow
browser can never stall the gateway: when its outbox is full the connection is closed
and the client reconnects, resuming after the last message id it saw.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed

from bot.store.records import AgentRecord

logger = logging.getLogger(__name__)

MAX_PENDING = 256

# Strong references to background tasks until they finish (the loop keeps only weak ones).
_background: set[asyncio.Task[Any]] = set()


def keep(task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Hold a reference to ``task`` until it is done, and return it."""
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


class Socket(Protocol):
    """The part of a WebSocket connection the hub uses."""

    async def send(self, message: str) -> None:
        """Send one text frame."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""


class Peer:
    """One open connection with its own outbox and writer task."""

    def __init__(self, ws: Socket, max_pending: int = MAX_PENDING) -> None:
        """Start the writer task (must run inside the event loop).

        Args:
            ws: The connection.
            max_pending: Frames that may wait before the connection counts as stuck.
        """
        self.ws = ws
        self.closed = False
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=max_pending)
        self._writer = keep(asyncio.create_task(self._drain()))

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a JSON frame; close the connection if it cannot keep up."""
        if self.closed:
            return
        try:
            self._outbox.put_nowait(json.dumps(frame, ensure_ascii=False, default=str))
        except asyncio.QueueFull:
            logger.warning("closing a connection that cannot keep up")
            self.closed = True
            keep(asyncio.create_task(self._close(1013, "too slow")))

    def stop(self) -> None:
        """Stop the writer (the connection handler is ending); never blocks."""
        self.closed = True
        self._writer.cancel()

    async def _drain(self) -> None:
        while True:
            frame = await self._outbox.get()
            try:
                await self.ws.send(frame)
            except (ConnectionClosed, Exception):  # noqa: BLE001 - closed in any way
                self.closed = True
                return

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code, reason)
        except Exception:  # noqa: BLE001
            pass


class AgentPeer(Peer):
    """An inbox connection: knows its agent and which conversations it watches."""

    def __init__(self, ws: Socket, agent: AgentRecord) -> None:
        """Start the writer for an agent's connection."""
        super().__init__(ws)
        self.agent = agent
        self.watching: set[str] = set()


class LiveHub:
    """Who is connected, and pushes to them."""

    def __init__(self) -> None:
        """Start empty."""
        self._customers: dict[str, set[Peer]] = {}
        self._agents: set[AgentPeer] = set()
        self._signal_handlers: dict[str, Callable[[], None]] = {}

    async def start(self) -> None:
        """Nothing to start in memory (a shared hub connects here: bot/live_redis.py)."""

    async def close(self) -> None:
        """Nothing to close in memory."""

    async def add_customer(self, conversation_id: str, peer: Peer) -> None:
        """Deliver a conversation's pushes to ``peer`` (every push made after this returns)."""
        self._customers.setdefault(conversation_id, set()).add(peer)

    def remove_customer(self, conversation_id: str, peer: Peer) -> None:
        """Stop delivering to ``peer``."""
        peers = self._customers.get(conversation_id)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._customers[conversation_id]

    async def add_agent(self, peer: AgentPeer) -> None:
        """Register an inbox connection (it gets every push made after this returns)."""
        self._agents.add(peer)

    def remove_agent(self, peer: AgentPeer) -> None:
        """Forget an inbox connection."""
        self._agents.discard(peer)

    def customer_online(self, conversation_id: str) -> bool:
        """Whether the customer has an open connection."""
        return bool(self._customers.get(conversation_id))

    def connected_conversations(self) -> list[str]:
        """Conversations with at least one open customer connection."""
        return list(self._customers)

    def agents_online(self) -> int:
        """Number of distinct agents with an open inbox."""
        return len({p.agent.id for p in self._agents if not p.closed})

    def to_customer(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """Push a frame to every open connection of a conversation's customer."""
        self.to_customer_here(conversation_id, frame)

    def to_customer_here(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """Push a frame to the customer's connections held by this instance only."""
        for peer in list(self._customers.get(conversation_id, ())):
            peer.send(frame)

    def on_signal(self, name: str, handler: Callable[[], None]) -> None:
        """Run ``handler`` on this instance whenever any instance sends signal ``name``."""
        self._signal_handlers[name] = handler

    def signal(self, name: str) -> None:
        """Tell every instance (this one included) that ``name`` happened."""
        self._run_signal(name)

    def _run_signal(self, name: str) -> None:
        handler = self._signal_handlers.get(name)
        if handler is not None:
            handler()

    def to_agents(self, frame: dict[str, Any], watching: str | None = None) -> None:
        """Push a frame to all inbox connections, or only those watching a conversation.

        Args:
            frame: The JSON frame.
            watching: If given, only connections that watch this conversation.
        """
        for peer in list(self._agents):
            if watching is None or watching in peer.watching:
                peer.send(frame)
