"""Async client for the Rasa server: the REST webhook and the tracker API."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

HANDOFF_KEY = "handoff"
# What Rasa understood of the message, sent with the replies by the project's REST channel
# (deploy/turn_channel.py); a stock REST channel omits it.
TURN_HEADER = "X-Rasa-Turn"


class RasaUnavailable(Exception):
    """Rasa did not answer usefully (down, 5xx, timeout, garbage)."""


@dataclass(frozen=True)
class BotReply:
    """One bot message: text, quick-reply buttons, optional image."""

    text: str
    buttons: tuple[dict[str, str], ...] = ()
    image: str | None = None
    custom: dict[str, Any] | None = None


@dataclass(frozen=True)
class HandoffSignal:
    """The bot's request for a person (see docs/contracts.md)."""

    reason: str
    intent: str | None = None
    order_id: str | None = None


@dataclass(frozen=True)
class BotTurn:
    """What Rasa answered to one message."""

    replies: list[BotReply] = field(default_factory=list)
    handoff: HandoffSignal | None = None
    understood: TrackerSummary | None = None  # intent and form, when Rasa sent them


@dataclass(frozen=True)
class TrackerSummary:
    """The parts of Rasa's tracker the handoff card shows."""

    intent: str | None
    confidence: float | None
    slots: dict[str, Any]
    active_loop: str | None


def parse_understood(raw: str | None) -> TrackerSummary | None:
    """The ``X-Rasa-Turn`` header as a summary (None when missing or unreadable)."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    intent, loop, confidence = data.get("intent"), data.get("active_loop"), data.get("confidence")
    return TrackerSummary(
        intent=intent if isinstance(intent, str) else None,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
        slots={},
        active_loop=loop if isinstance(loop, str) else None,
    )


def _buttons(raw: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    result = []
    for item in raw:
        if isinstance(item, dict) and item.get("title"):
            title = str(item["title"])
            result.append({"title": title, "payload": str(item.get("payload") or title)})
    return tuple(result)


def parse_turn(payload: Any) -> BotTurn:
    """Turn Rasa's REST reply list into replies and an optional handoff signal.

    Args:
        payload: The decoded JSON body of the webhook response.

    Returns:
        The parsed turn; a ``custom.handoff`` reply becomes the signal (and, if it
        has no text, is not shown to the customer).

    Raises:
        RasaUnavailable: if the body is not a list of objects.
    """
    if not isinstance(payload, list):
        raise RasaUnavailable("unexpected webhook response")
    replies: list[BotReply] = []
    signal: HandoffSignal | None = None
    for item in payload:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else None
        if custom and isinstance(custom.get(HANDOFF_KEY), dict):
            raw = custom[HANDOFF_KEY]
            signal = HandoffSignal(
                reason=str(raw.get("reason") or "customer_request"),
                intent=str(raw["intent"]) if raw.get("intent") else None,
                order_id=str(raw["order_id"]) if raw.get("order_id") else None,
            )
            custom = {k: v for k, v in custom.items() if k != HANDOFF_KEY} or None
        text = str(item.get("text") or "")
        buttons = _buttons(item.get("buttons"))
        image = str(item["image"]) if item.get("image") else None
        if text or buttons or image or custom:
            replies.append(BotReply(text=text, buttons=buttons, image=image, custom=custom))
    return BotTurn(replies=replies, handoff=signal)


class RasaClient:
    """Talks to one Rasa server over HTTP; never blocks the event loop."""

    def __init__(self, base_url: str, auth_token: str | None = None, timeout: float = 20.0) -> None:
        """Configure the client (the HTTP session is opened by :meth:`start`).

        Args:
            base_url: Rasa's base URL, e.g. ``http://localhost:5005``, or several
                comma-separated URLs of Rasa servers that share their stores.
            auth_token: Token of Rasa's HTTP API, if it requires one.
            timeout: Seconds before a webhook call counts as failed.
        """
        # Several servers (comma-separated) sharing a tracker and lock store are used in
        # turn; a server that refuses the connection is skipped (docs/production.md).
        self._bases = [part.strip().rstrip("/") for part in base_url.split(",") if part.strip()]
        self._next = 0
        self._token = auth_token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the shared HTTP session (inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open HTTP session (opened on first use if :meth:`start` was skipped)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        """Send one customer message to the REST webhook.

        Args:
            conversation_id: Used as Rasa's sender id.
            text: The message (or a button payload).
            metadata: ``customer_id``, ``channel`` and ``language``.

        Returns:
            The bot's replies and handoff signal.

        Raises:
            RasaUnavailable: on connection errors, non-2xx answers, timeouts or a
                malformed body.
        """
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        for attempt, base in enumerate(self._rotation()):
            url = f"{base}/webhooks/rest/webhook"
            try:
                async with self.session.post(url, json=body, timeout=self._timeout) as resp:
                    if resp.status >= 300:
                        raise RasaUnavailable(f"webhook answered HTTP {resp.status}")
                    payload = await resp.json(content_type=None)
                    understood = parse_understood(resp.headers.get(TURN_HEADER))
            except aiohttp.ClientConnectorError as exc:
                # Not connected, so nothing was processed: the next server may take it.
                if attempt + 1 < len(self._bases):
                    logger.warning("Rasa server %s refused the connection; trying the next", base)
                    continue
                raise RasaUnavailable(type(exc).__name__) from exc
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise RasaUnavailable(type(exc).__name__) from exc
            if payload == []:
                # Rasa answers an empty list when processing failed inside it (action
                # server, tracker store or lock store down): never leave the customer
                # without an answer.
                raise RasaUnavailable("empty answer")
            return replace(parse_turn(payload), understood=understood)
        raise RasaUnavailable("no Rasa server configured")

    def _rotation(self) -> list[str]:
        """The servers, starting with the next one in turn (round robin)."""
        start = self._next % max(1, len(self._bases))
        self._next += 1
        return self._bases[start:] + self._bases[:start]

    async def tracker(self, conversation_id: str) -> TrackerSummary | None:
        """Read intent and slots from Rasa's tracker for the handoff card.

        Args:
            conversation_id: Rasa's sender id.

        Returns:
            The summary, or None if Rasa cannot tell (down, API disabled, no access).
        """
        url = f"{self._rotation()[0]}/conversations/{quote(conversation_id, safe='')}/tracker"
        params = {"include_events": "NONE"}
        if self._token:
            params["token"] = self._token
        try:
            async with self.session.get(
                url, params=params, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                if resp.status != 200:
                    logger.info("tracker read answered HTTP %s", resp.status)
                    return None
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            logger.info("tracker read failed")
            return None
        if not isinstance(data, dict):
            return None
        latest = data.get("latest_message") or {}
        intent = latest.get("intent") if isinstance(latest, dict) else None
        loop = data.get("active_loop") or {}
        return TrackerSummary(
            intent=(intent or {}).get("name") if isinstance(intent, dict) else None,
            confidence=(intent or {}).get("confidence") if isinstance(intent, dict) else None,
            slots=data.get("slots") if isinstance(data.get("slots"), dict) else {},
            active_loop=loop.get("name") if isinstance(loop, dict) else None,
        )
