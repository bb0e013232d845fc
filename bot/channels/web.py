"""The website channel: the chat widget's WebSocket and the HTTP message API.

Inbound half: routes, field checks, customer-token verification, and translation to
one ``InboundMessage``. Outbound half: framing pushes for the widget's socket. No
business rules and no database access here: both go through the ``ConversationPort``.

WebSocket protocol (JSON text frames), client to server:
``{"type": "hello", "sender", "customer_token"?, "language"?, "last_id"?}`` first, then
``{"type": "message", "text", "client_message_id"}`` and ``{"type": "ping"}``.
Server to client: ``welcome``, ``message``, ``ack``, ``state``, ``typing``, ``error``,
``pong`` (see docs/gateway.md).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
from typing import Any, Protocol

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from websockets.exceptions import ConnectionClosed

from bot.channels.base import InboundMessage
from bot.conversations import HandledMessage
from bot.errors import GatewayError, InvalidRequest
from bot.identity import verify_customer_token
from bot.language import LANGUAGES
from bot.live import LiveHub, Peer, keep
from bot.store.records import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

CHANNEL = "web"
API_CHANNELS = ("web", "rest")
_SENDER_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
HELLO_TIMEOUT = 30.0


class ConversationPort(Protocol):
    """What the web channel needs from the core (the ConversationService)."""

    def check(self, inbound: InboundMessage) -> None:
        """Raise if the message must not be stored."""

    async def open(self, inbound: InboundMessage) -> ConversationRecord:
        """Find or start the conversation of a message."""

    async def handle(self, inbound: InboundMessage) -> HandledMessage:
        """Store and route a message."""

    async def find(self, channel: str, sender: str) -> ConversationRecord | None:
        """Return a sender's conversation, if any."""

    async def history(self, conversation_id: str, after_id: int = 0) -> list[MessageRecord]:
        """Return messages after an id."""

    async def describe(self, conversation_id: str) -> dict[str, object] | None:
        """Return the state frame."""


def _text_field(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Field '{name}' must be a string.")
    return value


def _sender(value: Any) -> str:
    if not isinstance(value, str) or not _SENDER_RE.match(value):
        raise InvalidRequest("Field 'sender' must be 1-128 characters of letters, digits and _.:@-")
    return value


def _client_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CLIENT_ID_RE.match(value):
        raise InvalidRequest("Field 'client_message_id' must be 1-64 safe characters.")
    return value


def _language(value: Any) -> str | None:
    return value if isinstance(value, str) and value in LANGUAGES else None


class WebInput:
    """Routes of the web channel (HTTP API and widget socket)."""

    def __init__(self, port: ConversationPort, hub: LiveHub, token_secret: str) -> None:
        """Wire the channel.

        Args:
            port: The core's message path.
            hub: Live connections (the socket registers its customer there).
            token_secret: ``CUSTOMER_TOKEN_SECRET``.
        """
        self._port = port
        self._hub = hub
        self._secret = token_secret

    def parse_api_message(self, body: Any) -> InboundMessage:
        """Translate the HTTP API body into an ``InboundMessage``.

        Raises:
            InvalidRequest: a field is missing or malformed.
        """
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        channel = body.get("channel") or CHANNEL
        if channel not in API_CHANNELS:
            raise InvalidRequest("Field 'channel' must be 'web' or 'rest'.")
        text = _text_field(body, "text")
        assert text is not None
        token = body.get("customer_token")
        return InboundMessage(
            channel=channel,
            sender=_sender(body.get("sender")),
            text=text,
            customer_id=verify_customer_token(
                token if isinstance(token, str) else None, self._secret
            ),
            client_message_id=_client_id(body.get("client_message_id")),
            language=_language(body.get("language")),
        )

    def blueprint(self) -> Blueprint:
        """Return the channel's routes."""
        bp = Blueprint("web_channel")

        @bp.post("/api/v1/messages")
        async def post_message(request: Request) -> HTTPResponse:
            inbound = self.parse_api_message(request.json)
            result = await self._port.handle(inbound)
            return json(result.public())

        @bp.post("/api/v1/history")
        async def post_history(request: Request) -> HTTPResponse:
            body = request.json
            if not isinstance(body, dict):
                raise InvalidRequest("The body must be a JSON object.")
            channel = body.get("channel") or CHANNEL
            if channel not in API_CHANNELS:
                raise InvalidRequest("Field 'channel' must be 'web' or 'rest'.")
            sender = _sender(body.get("sender"))
            after = body.get("after_id") or 0
            if not isinstance(after, int) or after < 0:
                raise InvalidRequest("Field 'after_id' must be a non-negative integer.")
            conversation = await self._port.find(channel, sender)
            if conversation is None:
                return json({"conversation_id": None, "state": "bot", "messages": []})
            messages = await self._port.history(conversation.id, after)
            return json(
                {
                    "conversation_id": conversation.id,
                    "state": conversation.state,
                    "messages": [m.public() for m in messages],
                }
            )

        @bp.websocket("/ws")
        async def widget_socket(request: Request, ws: Any) -> None:
            await WidgetConnection(self, ws).run()

        return bp

    @property
    def port(self) -> ConversationPort:
        """The core's message path."""
        return self._port

    @property
    def hub(self) -> LiveHub:
        """Live connections."""
        return self._hub

    def verify(self, token: Any) -> str | None:
        """Verify a customer token (None when missing, bad or expired)."""
        return verify_customer_token(token if isinstance(token, str) else None, self._secret)


class WidgetConnection:
    """One widget socket: hello, resume, then messages in order."""

    def __init__(self, channel: WebInput, ws: Any) -> None:
        """Prepare the connection state."""
        self._channel = channel
        self._ws = ws
        self._peer = Peer(ws)
        self._conversation_id: str | None = None
        self._sender = ""
        self._token: str | None = None
        self._language: str | None = None
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def run(self) -> None:
        """Serve the connection until it closes."""
        # Messages already received are finished even if the customer goes away: they
        # are stored and answered, and the customer sees the replies on return.
        keep(asyncio.create_task(self._work()))
        try:
            if await self._hello():
                await self._read()
        except ConnectionClosed:
            pass
        finally:
            self._inbox.put_nowait(None)
            if self._conversation_id:
                self._channel.hub.remove_customer(self._conversation_id, self._peer)
            self._peer.stop()

    async def _recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        raw = await self._ws.recv(timeout=timeout)
        if raw is None:
            return None
        try:
            frame = jsonlib.loads(raw)
        except (TypeError, ValueError):
            self._peer.send({"type": "error", "code": "bad_frame"})
            return {}
        return frame if isinstance(frame, dict) else {}

    async def _hello(self) -> bool:
        frame = await self._recv(timeout=HELLO_TIMEOUT)
        if not frame or frame.get("type") != "hello":
            await self._ws.close(4400, "hello expected")
            return False
        try:
            self._sender = _sender(frame.get("sender"))
        except InvalidRequest:
            await self._ws.close(4400, "bad sender")
            return False
        token = frame.get("customer_token")
        self._token = token if isinstance(token, str) else None
        self._language = _language(frame.get("language"))
        last_id = frame.get("last_id")
        last_id = last_id if isinstance(last_id, int) and last_id > 0 else 0
        conversation = await self._channel.port.find(CHANNEL, self._sender)
        if conversation is None:
            self._peer.send({"type": "welcome", "conversation_id": None, "state": "bot"})
            return True
        verified = self._channel.verify(self._token)
        if conversation.customer_id and verified and verified != conversation.customer_id:
            # Sent directly (not queued) so that it arrives before the close frame.
            await self._ws.send(jsonlib.dumps({"type": "error", "code": "identity_conflict"}))
            await self._ws.close(4409, "identity conflict")
            return False
        await self._attach(conversation.id)
        for message in await self._channel.port.history(conversation.id, last_id):
            self._peer.send({"type": "message", "message": message.public()})
        return True

    async def _attach(self, conversation_id: str) -> None:
        self._conversation_id = conversation_id
        if self._peer.closed:
            return  # the socket is gone; the message is still handled
        await self._channel.hub.add_customer(conversation_id, self._peer)
        state = await self._channel.port.describe(conversation_id) or {"state": "bot"}
        self._peer.send({**state, "type": "welcome", "conversation_id": conversation_id})

    async def _read(self) -> None:
        while True:
            frame = await self._recv()
            if frame is None or self._peer.closed:
                if self._peer.closed:
                    return
                continue
            kind = frame.get("type")
            if kind == "ping":
                self._peer.send({"type": "pong"})
            elif kind == "message":
                await self._inbox.put(frame)
            elif kind:
                self._peer.send({"type": "error", "code": "unknown_type"})

    async def _work(self) -> None:
        while True:
            frame = await self._inbox.get()
            if frame is None:
                return
            client_id = frame.get("client_message_id")
            try:
                inbound = InboundMessage(
                    channel=CHANNEL,
                    sender=self._sender,
                    text=_text_field(frame, "text") or "",
                    customer_id=self._channel.verify(self._token),
                    client_message_id=_client_id(client_id),
                    language=_language(frame.get("language")) or self._language,
                )
                self._channel.port.check(inbound)
                if self._conversation_id is None:
                    conversation = await self._channel.port.open(inbound)
                    await self._attach(conversation.id)
                result = await self._channel.port.handle(inbound)
            except GatewayError as exc:
                self._peer.send(
                    {
                        "type": "error",
                        "code": exc.code,
                        "message": exc.message,
                        "client_message_id": client_id if isinstance(client_id, str) else None,
                    }
                )
                continue
            except Exception:  # noqa: BLE001 - the socket must survive one bad message
                logger.exception("widget message failed")
                self._peer.send(
                    {
                        "type": "error",
                        "code": "server_error",
                        "client_message_id": client_id if isinstance(client_id, str) else None,
                    }
                )
                continue
            self._peer.send(
                {
                    "type": "ack",
                    "client_message_id": inbound.client_message_id,
                    "message_id": result.message.id,
                    "duplicate": result.duplicate,
                    "state": result.conversation.state,
                }
            )
