"""WeCom customer service (微信客服) at ``/wecom``.

WeCom does not put the customer's message into the callback. The callback (always in
safe mode, signed with ``msg_signature`` over the token, timestamp, nonce and the
encrypted value, encrypted for the corp id) only says *there is news* for a
customer-service account; the gateway then reads the messages with ``kf/sync_msg``,
page by page after a cursor. The cursor is saved in the gateway database after each
page has been handled, so a restarted gateway reads on from there (a crash in the middle
of a page re-reads it, and the ``msgid`` de-duplication drops what was stored already).

Customer messages (``origin`` 3) of type text go to the conversation of
``<open_kfid>:<external_userid>`` through the normal message path; replies go back with
``kf/send_msg``. WeCom customers are anonymous: an ``external_userid`` is not an Official
Account openid, so no shop binding applies. With ``WECOM_HANDOFF=wecom``, an agent taking
the conversation moves the WeCom session to a human receptionist
(``kf/service_state/trans``, state 3), who then answers in WeCom itself (WeCom refuses
API messages for sessions with a person).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, text

from bot.channels.base import InboundMessage
from bot.channels.wechat import WeChatPort
from bot.channels.wechat_api import WeChatApiError, WeComKfApi
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
    check_signature,
    parse_xml,
)
from bot.errors import Forbidden, GatewayError, InvalidRequest
from bot.live import keep
from bot.store.records import ConversationRecord, MessageRecord

logger = logging.getLogger(__name__)

CHANNEL = "wecom"
CURSOR_PREFIX = "wecom:"
CUSTOMER_ORIGIN = 3
EVENT_ORIGIN = 4
WITH_RECEPTIONIST = 3
FIRST_SYNC_MAX_AGE = 600  # seconds: a first sync ignores WeCom's 3-day backlog beyond this
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SAFE_MSGID = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


class CursorPort(Protocol):
    """Where the ``sync_msg`` cursors are kept (``WeChatStore``)."""

    async def cursor(self, name: str) -> str | None:
        """Return a saved cursor."""

    async def save_cursor(self, name: str, cursor: str) -> None:
        """Save a cursor."""

    async def cursor_names(self, prefix: str) -> list[str]:
        """Return the names of saved cursors."""


def split_sender(sender: str) -> tuple[str, str] | None:
    """Return ``(open_kfid, external_userid)`` of a WeCom conversation's sender."""
    kfid, _, external = sender.partition(":")
    if _ID.match(kfid) and _ID.match(external):
        return kfid, external
    return None


class WeComOutbound:
    """Answers through ``kf/send_msg`` and moves sessions to a person."""

    def __init__(
        self,
        api: WeComKfApi,
        sender: OrderedSender,
        handoff: str = "inbox",
        servicer_userid: str | None = None,
    ) -> None:
        """Wire the sending half.

        Args:
            api: The WeCom client.
            sender: Runs pushes in order per conversation.
            handoff: ``inbox`` or ``wecom`` (``WECOM_HANDOFF``).
            servicer_userid: The receptionist for ``wecom`` mode.
        """
        self._api = api
        self._sender = sender
        self._handoff = handoff
        self._servicer = servicer_userid

    @property
    def agent_replies(self) -> bool:
        """Inbox replies are sent only when agents answer in the inbox."""
        return self._handoff == "inbox"

    def deliver(self, conversation: ConversationRecord, messages: Sequence[MessageRecord]) -> None:
        """Schedule the messages as one text (split if WeChat would cut it)."""
        body = render(messages, conversation.language)
        self.send_text(conversation.id, conversation.sender, body)

    def send_text(self, key: str, sender: str, body: str) -> None:
        """Schedule a plain text to the customer of ``sender`` (ordered by ``key``)."""
        ids = split_sender(sender)
        if not body or ids is None:
            return
        api, (kfid, external) = self._api, ids

        async def push() -> None:
            for piece in chunks(body):
                await api.send_text(external, kfid, piece)

        self._sender.submit(key, push)

    def welcome(self, key: str, code: str, language: str | None) -> None:
        """Schedule the welcome text of an ``enter_session`` event."""
        api, body = self._api, say("welcome", language)
        self._sender.submit(key, lambda: api.send_on_event(code, body))

    def hand_to_person(self, conversation: ConversationRecord) -> None:
        """In ``wecom`` mode, move the WeCom session to the receptionist."""
        ids = split_sender(conversation.sender)
        if self._handoff != "wecom" or ids is None:
            return
        api, servicer, (kfid, external) = self._api, self._servicer, ids
        self._sender.submit(
            conversation.id, lambda: api.transfer(kfid, external, WITH_RECEPTIONIST, servicer)
        )


def _message_key(msgid: str) -> str | None:
    if not msgid:
        return None
    if _SAFE_MSGID.match(msgid):
        return f"wc{msgid}"
    return "wc" + hashlib.sha1(msgid.encode("utf-8")).hexdigest()


class WeComInput:
    """The WeCom callback and the ``sync_msg`` reader."""

    def __init__(
        self,
        *,
        port: WeChatPort,
        outbound: WeComOutbound,
        api: WeComKfApi,
        cursors: CursorPort,
        settings: WeChatSettings,
    ) -> None:
        """Wire the channel.

        Args:
            port: The core's message path.
            outbound: Sends replies.
            api: Reads messages.
            cursors: Keeps the read positions.
            settings: Corp id, token and AES key.
        """
        assert settings.wecom_token and settings.wecom_aes_key and settings.wecom_corpid
        self._port = port
        self._outbound = outbound
        self._api = api
        self._cursors = cursors
        self._token = settings.wecom_token
        self._cipher = MessageCipher(settings.wecom_aes_key, settings.wecom_corpid)
        self._syncing: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, str | None] = {}

    # --- routes --------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """Return the callback routes."""
        bp = Blueprint("wecom_channel")

        @bp.get("/wecom")
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            echo = args.get("echostr", "")
            if not echo or not check_signature(
                args.get("msg_signature"),
                self._token,
                args.get("timestamp", ""),
                args.get("nonce", ""),
                echo,
            ):
                self._refuse("verification")
            try:
                return text(self._cipher.decrypt(echo))
            except CryptoError:
                self._refuse("verification")

        @bp.post("/wecom")
        async def receive(request: Request) -> HTTPResponse:
            event = self._open(request)
            if event.get("MsgType") == "event" and event.get("Event") == "kf_msg_or_event":
                kfid = event.get("OpenKfId", "")
                if _ID.match(kfid):
                    self.trigger(kfid, event.get("Token") or None)
            return text("success")

        return bp

    @staticmethod
    def _refuse(what: str) -> NoReturn:
        logger.warning("wecom: refused a %s request with a bad signature", what)
        raise Forbidden("Bad signature.")

    def _open(self, request: Request) -> dict[str, str]:
        args = request.args
        try:
            sealed = parse_xml(request.body).get("Encrypt", "")
        except XmlError as exc:
            raise InvalidRequest("The body is not a WeCom message.") from exc
        if not sealed or not check_signature(
            args.get("msg_signature"),
            self._token,
            args.get("timestamp", ""),
            args.get("nonce", ""),
            sealed,
        ):
            self._refuse("message")
        try:
            return parse_xml(self._cipher.decrypt(sealed).encode("utf-8"))
        except CryptoError:
            self._refuse("message")
        except XmlError as exc:
            raise InvalidRequest("The body is not a WeCom message.") from exc

    # --- reading -------------------------------------------------------------------------

    def trigger(self, open_kfid: str, event_token: str | None) -> None:
        """Read the account's new messages (once more if a read is running)."""
        if open_kfid in self._syncing:
            self._again[open_kfid] = event_token
            return
        self._syncing[open_kfid] = keep(asyncio.create_task(self._sync(open_kfid, event_token)))

    async def catch_up(self) -> None:
        """Read what arrived while the gateway was down, for every known account."""
        for name in await self._cursors.cursor_names(CURSOR_PREFIX):
            kfid = name[len(CURSOR_PREFIX) :]
            if _ID.match(kfid):
                self.trigger(kfid, None)

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait (at most ``timeout`` seconds) for running reads."""
        running = list(self._syncing.values())
        if running:
            await asyncio.wait(running, timeout=timeout)

    async def _sync(self, open_kfid: str, event_token: str | None) -> None:
        while True:
            try:
                await self._read_all(open_kfid, event_token)
            except WeChatApiError as exc:
                logger.warning("wecom sync_msg failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - the next callback tries again
                logger.error("wecom sync failed: %s", type(exc).__name__)
            if open_kfid not in self._again:
                del self._syncing[open_kfid]
                return
            event_token = self._again.pop(open_kfid)

    async def _read_all(self, open_kfid: str, event_token: str | None) -> None:
        name = f"{CURSOR_PREFIX}{open_kfid}"
        cursor = await self._cursors.cursor(name)
        oldest = time.time() - FIRST_SYNC_MAX_AGE if cursor is None else 0.0
        while True:
            page = await self._api.sync_msg(cursor, event_token, open_kfid)
            messages = [m for m in page.get("msg_list") or [] if isinstance(m, dict)]
            fresh = [m for m in messages if float(m.get("send_time") or 0) >= oldest]
            await self._handle_page(fresh)
            next_cursor = page.get("next_cursor")
            if isinstance(next_cursor, str) and next_cursor and next_cursor != cursor:
                cursor = next_cursor
                await self._cursors.save_cursor(name, cursor)
            if not page.get("has_more"):
                return

    async def _handle_page(self, messages: list[dict[str, Any]]) -> None:
        """Handle a page: each customer's messages in order, customers side by side."""
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            key = f"{message.get('open_kfid')}:{message.get('external_userid')}"
            by_customer.setdefault(key, []).append(message)

        async def one_customer(batch: list[dict[str, Any]]) -> None:
            for message in batch:
                try:
                    await self._handle_message(message)
                except Exception as exc:  # noqa: BLE001 - the others still get answers
                    logger.error("wecom message failed: %s", type(exc).__name__)

        await asyncio.gather(*(one_customer(batch) for batch in by_customer.values()))

    async def _handle_message(self, message: dict[str, Any]) -> None:
        kfid = str(message.get("open_kfid") or "")
        external = str(message.get("external_userid") or "")
        origin = message.get("origin")
        kind = message.get("msgtype")
        if origin == EVENT_ORIGIN and kind == "event":
            event = message.get("event") if isinstance(message.get("event"), dict) else {}
            code = str(event.get("welcome_code") or "")
            if event.get("event_type") == "enter_session" and code:
                key = f"{event.get('open_kfid')}:{event.get('external_userid')}"
                self._outbound.welcome(key, code, None)
            return
        if origin != CUSTOMER_ORIGIN or not _ID.match(kfid) or not _ID.match(external):
            return  # receptionists' messages and other events
        sender = f"{kfid}:{external}"
        conversation = await self._port.find(CHANNEL, sender)
        key = conversation.id if conversation else sender
        if kind != "text":
            language = conversation.language if conversation else None
            self._outbound.send_text(key, sender, say("text_only", language))
            return
        body = message.get("text") if isinstance(message.get("text"), dict) else {}
        content = str(body.get("content") or "")
        if not content.strip():
            return
        payload = None
        if conversation is not None and choice_number(content) is not None:
            payload = resolve_choice(content, await self._port.history(conversation.id))
        inbound = InboundMessage(
            channel=CHANNEL,
            sender=sender,
            text=payload or content,
            client_message_id=_message_key(str(message.get("msgid") or "")),
        )
        try:
            outcome = await self._port.handle(inbound)
        except GatewayError as exc:
            self._outbound.send_text(key, sender, exc.message)
            return
        if not outcome.duplicate:
            self._outbound.deliver(outcome.conversation, outcome.replies)
