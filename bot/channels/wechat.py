"""The WeChat Official Account (公众号) channel at ``/wechat``.

Inbound half: ``GET /wechat`` answers WeChat's server verification; ``POST /wechat``
receives messages in plaintext or safe mode. The signature is checked (constant-time)
before anything is parsed; a bad one gets 403, a log line without the body or openid,
and nothing is stored. A text message becomes one ``InboundMessage`` for the openid's
conversation, with the bound customer as the verified ``customer_id``.

The 5-second rule: WeChat waits 5 seconds for the answer and then retries the same
``MsgId`` (three times in all). The bot gets ``reply_deadline`` seconds; when it
answers in time, the replies go back as the passive XML reply. Otherwise the channel
answers ``success`` at once and pushes the replies through the customer-service API
when they are ready. A delivery whose ``MsgId`` is still being handled, or was handled
before, is answered ``success`` and never reaches the bot again.

Outbound half: ``OfficialAccountOutbound`` renders messages as text (buttons as numbered
options) and pushes them, in order per conversation, through the API.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, text

from bot.channels.base import InboundMessage
from bot.channels.wechat_api import MAX_TEXT_BYTES, OfficialAccountApi
from bot.channels.wechat_common import (
    OrderedSender,
    choice_number,
    chunks,
    render,
    resolve_choice,
    say,
)
from bot.channels.wechat_config import WeChatSettings
from bot.channels.wechat_crypto import (
    CryptoError,
    MessageCipher,
    XmlError,
    cdata,
    check_signature,
    parse_xml,
    seal_reply,
)
from bot.channels.wechat_identity import CustomerDirectory
from bot.conversations import HandledMessage
from bot.errors import Forbidden, GatewayError, InvalidRequest
from bot.store.records import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MSG_ID = re.compile(r"^[0-9]{1,30}$")


class WeChatPort(Protocol):
    """What the WeChat channels need from the core (the ConversationService)."""

    async def handle(self, inbound: InboundMessage) -> HandledMessage:
        """Store and route a message."""

    async def find(self, channel: str, sender: str) -> ConversationRecord | None:
        """Return a sender's conversation, if any."""

    async def history(self, conversation_id: str, after_id: int = 0) -> list[MessageRecord]:
        """Return messages after an id."""


@dataclass(frozen=True)
class WeChatMessage:
    """The fields of a WeChat callback message that the channel uses."""

    to_user: str
    from_user: str
    msg_type: str
    create_time: str = ""
    content: str = ""
    msg_id: str = ""
    event: str = ""
    event_key: str = ""
    recognition: str = ""

    @classmethod
    def of(cls, fields: dict[str, str]) -> WeChatMessage:
        """Pick the fields out of the parsed XML."""
        return cls(
            to_user=fields.get("ToUserName", ""),
            from_user=fields.get("FromUserName", ""),
            msg_type=fields.get("MsgType", "").lower(),
            create_time=fields.get("CreateTime", ""),
            content=fields.get("Content", ""),
            msg_id=fields.get("MsgId", ""),
            event=fields.get("Event", "").lower(),
            event_key=fields.get("EventKey", ""),
            recognition=fields.get("Recognition", ""),
        )


class OfficialAccountOutbound:
    """Pushes messages to followers through the customer-service message API."""

    agent_replies = True

    def __init__(self, api: OfficialAccountApi | None, sender: OrderedSender) -> None:
        """Wire the sending half.

        Args:
            api: The API client; None when ``WECHAT_APPID``/``WECHAT_APPSECRET`` are
                missing (then only passive replies are possible).
            sender: Runs pushes in order per conversation.
        """
        self._api = api
        self._sender = sender

    @property
    def can_push(self) -> bool:
        """Whether the API is configured."""
        return self._api is not None

    def deliver(self, conversation: ConversationRecord, messages: Sequence[MessageRecord]) -> None:
        """Schedule the push of ``messages`` (one text, split if WeChat would cut it)."""
        body = render(messages, conversation.language)
        if not body:
            return
        if self._api is None:
            logger.warning("cannot push a WeChat message: WECHAT_APPID/WECHAT_APPSECRET not set")
            return
        api, openid = self._api, conversation.sender

        async def push() -> None:
            for piece in chunks(body):
                await api.send_text(openid, piece)

        self._sender.submit(conversation.id, push)


class OfficialAccountInput:
    """Routes of the Official Account callback."""

    def __init__(
        self,
        *,
        port: WeChatPort,
        outbound: OfficialAccountOutbound,
        directory: CustomerDirectory,
        settings: WeChatSettings,
    ) -> None:
        """Wire the channel.

        Args:
            port: The core's message path.
            outbound: Pushes replies that missed the deadline.
            directory: Bound openids.
            settings: Token, AES key, app id and the reply deadline.
        """
        assert settings.token, "the Official Account channel needs WECHAT_TOKEN"
        self._port = port
        self._outbound = outbound
        self._directory = directory
        self._token = settings.token
        self._deadline = settings.reply_deadline
        self._cipher = (
            MessageCipher(settings.aes_key, settings.appid or "") if settings.aes_key else None
        )
        # Messages whose first delivery is still being handled, by (openid, message id).
        self._flights: dict[tuple[str, str], asyncio.Task[HandledMessage]] = {}

    # --- routes --------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """Return the channel's routes."""
        bp = Blueprint("wechat_channel")

        @bp.get("/wechat")
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            echo = args.get("echostr", "")
            if not check_signature(
                args.get("signature"), self._token, args.get("timestamp", ""), args.get("nonce", "")
            ):
                self._refuse("verification")
            return text(echo)

        @bp.post("/wechat")
        async def receive(request: Request) -> HTTPResponse:
            message, encrypted = self._open(request)
            reply = await self.respond(message)
            return self._reply(message, reply, encrypted, request.args.get("nonce", ""))

        return bp

    @staticmethod
    def _refuse(what: str) -> NoReturn:
        logger.warning("wechat: refused a %s request with a bad signature", what)
        raise Forbidden("Bad signature.")

    def _open(self, request: Request) -> tuple[WeChatMessage, bool]:
        """Verify the request and return its message (and whether it was encrypted)."""
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        if not check_signature(args.get("signature"), self._token, timestamp, nonce):
            self._refuse("message")
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        try:
            if not encrypted:
                return WeChatMessage.of(parse_xml(request.body)), False
            if self._cipher is None:
                logger.error("wechat: safe-mode message but WECHAT_AES_KEY is not set")
                raise InvalidRequest("Safe mode is not configured.")
            sealed = parse_xml(request.body).get("Encrypt", "")
            if not sealed or not check_signature(
                args.get("msg_signature"), self._token, timestamp, nonce, sealed
            ):
                self._refuse("message")
            try:
                inner = self._cipher.decrypt(sealed)
            except CryptoError:
                self._refuse("message")
            return WeChatMessage.of(parse_xml(inner.encode("utf-8"))), True
        except XmlError as exc:
            raise InvalidRequest("The body is not a WeChat message.") from exc

    def _reply(
        self, message: WeChatMessage, reply: str | None, encrypted: bool, nonce: str
    ) -> HTTPResponse:
        if not reply:
            return text("success")
        xml = (
            f"<xml><ToUserName>{cdata(message.from_user)}</ToUserName>"
            f"<FromUserName>{cdata(message.to_user)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType>{cdata('text')}</MsgType>"
            f"<Content>{cdata(reply)}</Content></xml>"
        )
        if encrypted and self._cipher is not None:
            xml = seal_reply(self._cipher, self._token, xml, nonce).xml()
        return text(xml, content_type="application/xml; charset=utf-8")

    # --- translation -----------------------------------------------------------------------

    async def respond(self, message: WeChatMessage) -> str | None:
        """Handle one verified message.

        Returns:
            The text of the passive reply, or None to answer ``success``.
        """
        openid = message.from_user
        if not _OPENID.match(openid):
            return None
        if message.msg_type == "event":
            if message.event == "subscribe":
                return say("welcome", None)
            if message.event == "click" and message.event_key:
                # A menu button: its key is handled like a button payload.
                stamp = message.create_time
                click_id = f"wxclick{stamp}" if _MSG_ID.match(stamp) else None
                return await self._text(openid, message.event_key, click_id)
            return None  # unsubscribe, scan, location reports, view: nothing to say
        if message.msg_type == "voice" and message.recognition.strip():
            return await self._text(openid, message.recognition, self._message_id(message))
        if message.msg_type != "text":
            conversation = await self._port.find(CHANNEL, openid)
            return say("text_only", conversation.language if conversation else None)
        return await self._text(openid, message.content, self._message_id(message))

    @staticmethod
    def _message_id(message: WeChatMessage) -> str | None:
        return f"wx{message.msg_id}" if _MSG_ID.match(message.msg_id) else None

    async def _text(self, openid: str, content: str, message_id: str | None) -> str | None:
        if not content.strip():
            return None
        payload = await self._choice(openid, content)
        inbound = InboundMessage(
            channel=CHANNEL,
            sender=openid,
            text=payload or content,
            customer_id=await self._directory.customer_for(openid),
            client_message_id=message_id,
        )
        return await self._answer(inbound)

    async def _choice(self, openid: str, content: str) -> str | None:
        if choice_number(content) is None:
            return None
        conversation = await self._port.find(CHANNEL, openid)
        if conversation is None:
            return None
        return resolve_choice(content, await self._port.history(conversation.id))

    async def _answer(self, inbound: InboundMessage) -> str | None:
        """Let the core handle the message within the deadline (see the module doc)."""
        key = (inbound.sender, inbound.client_message_id or "")
        if inbound.client_message_id and key in self._flights:
            return None  # a retry while the first delivery is still with the bot
        task = asyncio.create_task(self._port.handle(inbound))
        if inbound.client_message_id:
            self._flights[key] = task
            task.add_done_callback(lambda _t: self._flights.pop(key, None))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), timeout=self._deadline)
        except asyncio.TimeoutError:
            task.add_done_callback(self._push_late)
            return None
        except GatewayError as exc:
            return exc.message  # too long, or a conflict: say so in the chat
        if outcome.duplicate:
            return None
        body = render(outcome.replies, outcome.conversation.language)
        if len(body.encode("utf-8")) > MAX_TEXT_BYTES and self._outbound.can_push:
            self._outbound.deliver(outcome.conversation, outcome.replies)
            return None
        return body or None

    def _push_late(self, task: asyncio.Task[HandledMessage]) -> None:
        """Push the replies of a message that missed the deadline."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            if isinstance(error, GatewayError):
                logger.info("late WeChat message refused: %s", error.code)
            else:
                logger.error("late WeChat message failed: %s", type(error).__name__)
            return
        outcome = task.result()
        if not outcome.duplicate and outcome.replies:
            self._outbound.deliver(outcome.conversation, outcome.replies)
