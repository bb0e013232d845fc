"""Simulated customers talking to the gateway's HTTP API, and readers of what got stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

TOKEN_SECRET = "prod-test-customer-token-secret-0123456789"
APOLOGY_ZH = "抱歉"


def customer_token(customer_id: str, secret: str = TOKEN_SECRET) -> str:
    """A shop-signed customer token (HS256 JWT), as the shop's page would embed it."""
    return jwt.encode({"sub": customer_id, "exp": int(time.time()) + 3600}, secret, "HS256")


@dataclass
class Turn:
    """One customer message and what the customer saw."""

    text: str
    client_message_id: str
    status: int = 0
    state: str = ""
    replies: list[str] = field(default_factory=list)
    attempts: int = 0
    server_errors: int = 0
    sent_at: float = 0.0
    latency: float = 0.0

    @property
    def answered(self) -> bool:
        """A reply, or a place in the queue (fail open): never silence."""
        return self.status == 200 and (bool(self.replies) or self.state == "queued")

    @property
    def reply_text(self) -> str:
        """The replies joined."""
        return "\n".join(self.replies)


class Customer:
    """One customer thread (`sender`) on the web channel."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        gateway_url: str,
        customer_id: str | None,
        *,
        retries: int = 12,
    ) -> None:
        self.session = session
        self.url = f"{gateway_url}/api/v1/messages"
        self.customer_id = customer_id
        self.sender = f"prod-{uuid.uuid4().hex[:16]}"
        self.token = customer_token(customer_id) if customer_id else None
        self.retries = retries
        self.turns: list[Turn] = []
        self.conversation_id: str | None = None

    async def say(self, text: str) -> Turn:
        """Sends a message; on a connection error or 5xx re-sends the same client message id
        (as the widget does) with back-off, so a stored message is never stored twice."""
        turn = Turn(text=text, client_message_id=f"{self.sender}-{len(self.turns) + 1}")
        self.turns.append(turn)
        body: dict[str, Any] = {
            "channel": "web",
            "sender": self.sender,
            "text": text,
            "client_message_id": turn.client_message_id,
        }
        if self.token:
            body["customer_token"] = self.token
        turn.sent_at = time.monotonic()
        delay = 0.25
        for attempt in range(1, self.retries + 1):
            turn.attempts = attempt
            try:
                async with self.session.post(
                    self.url, json=body, timeout=aiohttp.ClientTimeout(total=60)
                ) as response:
                    turn.status = response.status
                    data = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                turn.status = 0
                data = None
            if turn.status == 200 and isinstance(data, dict):
                self.conversation_id = data.get("conversation_id") or self.conversation_id
                turn.state = str(data.get("state") or "")
                turn.replies = [str(r.get("text") or "") for r in data.get("replies") or []]
                break
            turn.server_errors += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)
        turn.latency = time.monotonic() - turn.sent_at
        return turn


async def tracker_user_texts(
    session: aiohttp.ClientSession, rasa_url: str, conversation_id: str, token: str
) -> tuple[list[str], dict[str, Any]]:
    """The customer texts in Rasa's tracker (all sessions) and its current slots."""
    url = f"{rasa_url}/conversations/{conversation_id}/tracker"
    params = {"token": token, "include_events": "ALL"}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=30)) as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.json()
    texts = [e.get("text") or "" for e in data.get("events") or [] if e.get("event") == "user"]
    return texts, data.get("slots") or {}


def count_in(items: list[str], value: str) -> int:
    """How often `value` occurs in `items`."""
    return sum(1 for item in items if item == value)
