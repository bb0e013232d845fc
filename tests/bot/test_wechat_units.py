"""The WeChat protocol pieces, checked against wechatpy as the independent implementation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature as wechatpy_check_signature

from bot.channels.wechat_api import AccessTokens
from bot.channels.wechat_common import chunks, render, resolve_choice
from bot.channels.wechat_config import WeChatConfigError, WeChatSettings
from bot.channels.wechat_crypto import (
    CryptoError,
    MessageCipher,
    XmlError,
    cdata,
    check_signature,
    parse_xml,
    seal_reply,
    signature,
)
from bot.store.records import MessageRecord
from tests.bot.wechat_client import AES_KEY, TOKEN, sign

APPID = "wx0123456789abcdef"


def test_signature_matches_wechatpy() -> None:
    ours = signature(TOKEN, "1700000000", "nonce-1")
    wechatpy_check_signature(TOKEN, ours, "1700000000", "nonce-1")  # raises if different
    assert ours == sign(TOKEN, "1700000000", "nonce-1")
    with pytest.raises(InvalidSignatureException):
        wechatpy_check_signature(TOKEN, signature("other", "1700000000", "nonce-1"), "1", "2")


def test_check_signature_refuses_missing_malformed_and_wrong() -> None:
    good = sign(TOKEN, "1", "n", "ENC")
    assert check_signature(good, TOKEN, "1", "n", "ENC")
    assert check_signature(good.upper(), TOKEN, "1", "n", "ENC")
    assert not check_signature(None, TOKEN, "1", "n", "ENC")
    assert not check_signature("", TOKEN, "1", "n", "ENC")
    assert not check_signature("zz" * 20, TOKEN, "1", "n", "ENC")
    assert not check_signature(good, TOKEN, "1", "n", "ENC2")
    assert not check_signature(good, "other-token", "1", "n", "ENC")


def test_our_ciphertext_opens_with_wechatpy_and_back() -> None:
    cipher = MessageCipher(AES_KEY, APPID)
    message = "<xml><Content><![CDATA[我的订单到哪了]]></Content></xml>"
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    assert PrpCrypto(crypto.key).decrypt(cipher.encrypt(message), APPID) == message
    theirs = PrpCrypto(crypto.key).encrypt(message, APPID).decode()
    assert cipher.decrypt(theirs) == message


def test_sealed_reply_passes_wechatpy_checks() -> None:
    cipher = MessageCipher(AES_KEY, APPID)
    envelope = seal_reply(cipher, TOKEN, "<xml><Content>hi</Content></xml>", "nonce9")
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    xml = envelope.xml()
    parsed = xmltodict.parse(xml)["xml"]
    plain = crypto.decrypt_message(xml, parsed["MsgSignature"], parsed["TimeStamp"], "nonce9")
    assert plain == "<xml><Content>hi</Content></xml>"


def test_decrypt_refuses_other_app_and_garbage() -> None:
    other = MessageCipher(AES_KEY, "wxanotherapp000000").encrypt("<xml/>")
    cipher = MessageCipher(AES_KEY, APPID)
    with pytest.raises(CryptoError):
        cipher.decrypt(other)
    with pytest.raises(CryptoError):
        cipher.decrypt("not base64 at all!!")
    with pytest.raises(CryptoError):
        cipher.decrypt("QUJD")  # 3 bytes: not a whole block


@pytest.mark.parametrize("key", ["short", "x" * 44, "!" * 43])
def test_bad_aes_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        MessageCipher(key, APPID)


def test_parse_xml_refuses_entities_and_non_wechat_documents() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><C>&a;</C></xml>'
    with pytest.raises(XmlError):
        parse_xml(bomb)
    with pytest.raises(XmlError):
        parse_xml(b"<html><body/></html>")
    with pytest.raises(XmlError):
        parse_xml(b"<xml><unclosed></xml>")
    fields = parse_xml(b"<xml><MsgType><![CDATA[text]]></MsgType><MsgId>42</MsgId></xml>")
    assert fields == {"MsgType": "text", "MsgId": "42"}


def test_cdata_survives_its_terminator() -> None:
    text = "a]]>b<c>&"
    parsed = xmltodict.parse(f"<xml><C>{cdata(text)}</C></xml>")["xml"]["C"]
    assert parsed == text


def message(
    mid: int, author: str, text: str, buttons: list[dict[str, str]] | None = None, to: Any = None
) -> MessageRecord:
    return MessageRecord(
        id=mid,
        conversation_id="c",
        author=author,
        text=text,
        buttons=buttons or [],
        reply_to_id=to,
    )


def test_buttons_become_numbered_options_across_one_delivery() -> None:
    replies = [
        message(2, "bot", "您要查哪个订单？", [{"title": "DD1", "payload": "/inform1"}], to=1),
        message(3, "system", "排队中", [{"title": "取消", "payload": "/handoff_cancel"}], to=1),
    ]
    body = render(replies, "zh")
    assert "1. DD1" in body and "2. 取消" in body
    assert body.endswith("（回复数字即可选择）")
    transcript = [message(1, "customer", "查订单"), *replies]
    assert resolve_choice("2", transcript) == "/handoff_cancel"
    assert resolve_choice("１", transcript) == "/inform1"  # full-width digit
    assert resolve_choice("3", transcript) is None
    assert resolve_choice("2 please", transcript) is None
    # Once the customer wrote again, the old options are gone.
    assert resolve_choice("1", [*transcript, message(4, "customer", "hello")]) is None


def test_a_message_pushed_alone_is_numbered_from_one() -> None:
    transcript = [
        message(1, "customer", "转人工"),
        message(2, "system", "排队中", [{"title": "取消", "payload": "/handoff_cancel"}], to=1),
        message(3, "system", "请评价", [{"title": "满意", "payload": "/rate5"}]),
    ]
    assert "1. 满意" in render([transcript[2]], "zh")
    assert resolve_choice("1", transcript) == "/rate5"


def test_long_texts_are_split_below_the_byte_limit() -> None:
    text = "\n".join(["物流信息" * 50] * 5)
    pieces = chunks(text, 1000)
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert chunks("短", 1000) == ["短"]


async def test_access_token_is_cached_and_renewed_before_it_expires() -> None:
    now = [0.0]
    issued: list[str] = []

    async def fetch() -> tuple[str, float]:
        await asyncio.sleep(0.01)
        issued.append(f"t{len(issued) + 1}")
        return issued[-1], 7200.0

    tokens = AccessTokens(fetch, clock=lambda: now[0])
    first = await asyncio.gather(*(tokens.get() for _ in range(5)))
    assert first == ["t1"] * 5 and len(issued) == 1  # one fetch for concurrent callers
    now[0] = 6800.0
    assert await tokens.get() == "t1"
    now[0] = 6901.0  # within the last 5 minutes: renewed before WeChat expires it
    assert await tokens.get() == "t2"
    tokens.invalidate("t1")  # an old token: ignored
    assert await tokens.get() == "t2"
    tokens.invalidate("t2")
    assert await tokens.get() == "t3"


def test_settings_from_env() -> None:
    assert not WeChatSettings.from_env({}).official_account
    settings = WeChatSettings.from_env(
        {
            "WECHAT_TOKEN": "t",
            "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": "s",
            "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_API_BASE": "http://127.0.0.1:9/",
            "WECHAT_REPLY_DEADLINE": "1.5",
        }
    )
    assert settings.official_account and settings.can_push and not settings.wecom
    assert settings.api_base == "http://127.0.0.1:9" and settings.reply_deadline == 1.5
    for bad in (
        {"WECHAT_AES_KEY": "short"},
        {"WECHAT_AES_KEY": AES_KEY},  # safe mode without an app id
        {"WECHAT_REPLY_DEADLINE": "soon"},
        {"WECHAT_REPLY_DEADLINE": "5"},  # WeChat would already be retrying
        {"WECOM_HANDOFF": "somewhere"},
        {"WECOM_HANDOFF": "wecom"},  # without a receptionist
    ):
        with pytest.raises(WeChatConfigError):
            WeChatSettings.from_env(bad)


async def test_reply_guard_refuses_outside_the_window() -> None:
    from bot.store.records import ConversationRecord
    from bot.wechat_delivery import ChannelCannotSend, ReplyWindowClosed, WeChatReplyGuard

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)

    class Store:
        last: datetime | None = now - timedelta(hours=47)

        async def last_customer_message_at(self, _cid: str) -> datetime | None:
            return self.last

    class Outbound:
        agent_replies = True
        can_push = True

        def deliver(self, *_args: Any) -> None:
            return None

    def conversation(channel: str) -> ConversationRecord:
        return ConversationRecord(
            "c", channel, "o1", None, "zh", "agent", 1, 1, False, now, now
        )

    store = Store()
    guard = WeChatReplyGuard(store, {"wechat": Outbound()}, clock=lambda: now)  # type: ignore[arg-type]
    await guard(conversation("wechat"))
    await guard(conversation("web"))  # other channels are not concerned
    store.last = now - timedelta(hours=49)
    with pytest.raises(ReplyWindowClosed) as raised:
        await guard(conversation("wechat"))
    assert raised.value.status == 409 and "48" in raised.value.message
    with pytest.raises(ChannelCannotSend):
        await guard(conversation("wecom"))  # WeCom not configured
