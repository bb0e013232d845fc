"""WeChat's side of the callbacks, built with wechatpy (an independent implementation).

``OfficialAccountCaller`` signs (and in safe mode encrypts) messages the way WeChat's
servers do and posts them to a running gateway; ``WeComCaller`` does the same for WeCom
customer service. Neither uses any of the gateway's own protocol code.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import WeChatSigner

from tests.bot.fake_wechat import APPID, APPSECRET, CORPID, CORPSECRET, FakeWeChat
from tests.bot.gateway_harness import GatewayProcess, start_gateway

TOKEN = "test-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECOM_TOKEN = "test-wecom-token"
WECOM_AES_KEY = "GFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba"
ACCOUNT = "gh_0123456789ab"
KFID = "wkTESTKFACCOUNT01"


def sign(token: str, *parts: str) -> str:
    """WeChat's signature, computed by wechatpy."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return str(signer.signature)


def text_xml(openid: str, content: str, msg_id: str | int, to: str = ACCOUNT) -> str:
    """A text message as WeChat posts it."""
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str = "") -> str:
    """An event (subscribe, CLICK, ...) as WeChat posts it."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def media_xml(openid: str, kind: str, msg_id: str | int) -> str:
    """An image, voice or location message (only the fields the gateway may look at)."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
        f"<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl>"
        f"<MediaId><![CDATA[media-1]]></MediaId><MsgId>{msg_id}</MsgId></xml>"
    )


def new_msg_id() -> int:
    """A fresh 64-bit-looking MsgId."""
    return 6_000_000_000_000_000_000 + uuid.uuid4().int % 10**15


def new_openid() -> str:
    """An openid no shop customer is bound to."""
    return "oTest" + uuid.uuid4().hex[:23]


@dataclass
class Reply:
    """The gateway's answer to one callback."""

    status: int
    body: str
    message: dict[str, Any] | None  # the passive reply, decrypted and parsed; None for success

    @property
    def content(self) -> str:
        """The passive reply's text ("" when the gateway answered success)."""
        return str((self.message or {}).get("Content") or "")


class OfficialAccountCaller:
    """Posts callbacks to ``/wechat`` as WeChat's servers would."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, safe: bool = False) -> None:
        self.session = session
        self.url = f"{base_url}/wechat"
        self.safe = safe
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)

    def _query(self, token: str = TOKEN) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        return {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}

    async def verify(self, echostr: str, token: str = TOKEN) -> tuple[int, str]:
        """The server verification (GET)."""
        params = {**self._query(token), "echostr": echostr}
        async with self.session.get(self.url, params=params) as response:
            return response.status, await response.text()

    async def post(
        self,
        xml: str,
        *,
        token: str = TOKEN,
        msg_token: str | None = None,
        tamper: bool = False,
        openid: str | None = None,
    ) -> Reply:
        """Post one message (plaintext, or encrypted in safe mode) and parse the answer.

        Args:
            xml: The message.
            token: Token for the URL ``signature`` (a wrong one makes it bad).
            msg_token: Token for ``msg_signature`` in safe mode (default ``token``).
            tamper: Change the ciphertext after signing (safe mode).
            openid: Put into the query like WeChat does.
        """
        params = self._query(token)
        if openid:
            params["openid"] = openid
        body = xml
        if self.safe:
            params["encrypt_type"] = "aes"
            envelope = xmltodict.parse(
                self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
            )["xml"]
            encrypt = envelope["Encrypt"]
            if tamper:
                encrypt = encrypt[:-8] + ("A" * 8 if not encrypt.endswith("A" * 8) else "B" * 8)
            params["msg_signature"] = sign(
                msg_token or token, params["timestamp"], params["nonce"], encrypt
            )
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            )
        async with self.session.post(
            self.url, params=params, data=body.encode("utf-8"), headers={"Content-Type": "text/xml"}
        ) as response:
            text = await response.text()
            return Reply(response.status, text, self._parse(response.status, text))

    def _parse(self, status: int, text: str) -> dict[str, Any] | None:
        if status != 200 or text.strip() in ("", "success"):
            return None
        parsed = xmltodict.parse(text)["xml"]
        if self.safe:
            # Checks the reply's msg_signature and app id as WeChat would.
            plain = self.crypto.decrypt_message(
                text, parsed["MsgSignature"], parsed["TimeStamp"], parsed["Nonce"]
            )
            return dict(xmltodict.parse(plain)["xml"])
        return dict(parsed)

    async def say(self, openid: str, content: str, msg_id: int | None = None) -> Reply:
        """Send a text message from ``openid``."""
        return await self.post(text_xml(openid, content, msg_id or new_msg_id()))


class WeComCaller:
    """Posts WeCom customer-service callbacks to ``/wecom``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.url = f"{base_url}/wecom"
        self.crypto = WeComCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORPID)

    async def verify(self, reply: str, token: str = WECOM_TOKEN) -> tuple[int, str]:
        """The URL verification: an encrypted echostr that must come back decrypted."""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        echostr = WeComPrpCrypto(self.crypto.key).encrypt(reply, CORPID).decode()
        params = {
            "msg_signature": sign(token, timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        async with self.session.get(self.url, params=params) as response:
            return response.status, await response.text()

    async def notify(self, open_kfid: str = KFID, token: str = WECOM_TOKEN) -> tuple[int, str]:
        """The ``kf_msg_or_event`` callback that tells the gateway to read messages."""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        inner = (
            f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[ENC{uuid.uuid4().hex}]]></Token>"
            f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        envelope = xmltodict.parse(self.crypto.encrypt_message(inner, nonce, timestamp))["xml"]
        params = {
            "msg_signature": sign(token, timestamp, nonce, envelope["Encrypt"]),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
            f"<AgentID><![CDATA[]]></AgentID></xml>"
        )
        async with self.session.post(self.url, params=params, data=body.encode()) as response:
            return response.status, await response.text()


def wechat_env(fake: FakeWeChat, **overrides: str) -> dict[str, str]:
    """Gateway environment for both WeChat channels against the fake API."""
    return {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": APPSECRET,
        "WECHAT_AES_KEY": AES_KEY,
        "WECHAT_API_BASE": fake.url,
        "WECHAT_RETRY_DELAY": "0.2",
        "WECOM_CORPID": CORPID,
        "WECOM_SECRET": CORPSECRET,
        "WECOM_TOKEN": WECOM_TOKEN,
        "WECOM_AES_KEY": WECOM_AES_KEY,
        "WECOM_API_BASE": fake.url,
        **overrides,
    }


def start_wechat_gateway(workdir: Path, fake: FakeWeChat, **overrides: str) -> GatewayProcess:
    """A gateway (Rasa down unless overridden) with the WeChat channels on the fake API."""
    return start_gateway(workdir, **wechat_env(fake, **overrides))


def query(gateway: GatewayProcess, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read the gateway's SQLite database directly."""
    path = gateway.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return list(connection.execute(sql, params))


def stored_texts(gateway: GatewayProcess, channel: str, sender: str) -> list[tuple[str, str]]:
    """``(author, text)`` of every stored message of a sender's conversation."""
    return [
        (author, text)
        for author, text in query(
            gateway,
            "SELECT m.author, m.text FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.channel = ? AND c.sender = ? ORDER BY m.id",
            channel,
            sender,
        )
    ]


def conversation_of(gateway: GatewayProcess, channel: str, sender: str) -> dict[str, Any] | None:
    """The stored conversation row of a sender, as a dict."""
    rows = query(
        gateway,
        "SELECT id, state, customer_id, language FROM conversations "
        "WHERE channel = ? AND sender = ?",
        channel,
        sender,
    )
    if not rows:
        return None
    cid, state, customer, language = rows[0]
    return {"id": cid, "state": state, "customer_id": customer, "language": language}
