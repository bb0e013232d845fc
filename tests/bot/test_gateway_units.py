"""Pure pieces of the gateway: settings, tokens, reply parsing, language, passwords."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import jwt
import pytest

from bot.identity import issue_customer_token, verify_customer_token
from bot.inbox.card import _mask_slot
from bot.inbox.orders import masked
from bot.inbox.passwords import hash_password, verify_password
from bot.language import detect_language, pick_language
from bot.rasa_client import RasaUnavailable, parse_turn
from bot.settings import ServiceHours, Settings, SettingsError

SECRET = "unit-test-secret-long-enough-for-hs256!"


def test_service_hours_inside_and_outside() -> None:
    hours = ServiceHours.parse("09:00-21:00", "+08:00")
    # 01:30 UTC is 09:30 in Beijing; 13:30 UTC is 21:30.
    assert hours.is_open(datetime(2026, 11, 2, 1, 30, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 11, 2, 13, 30, tzinfo=timezone.utc))
    assert hours.describe() == "09:00-21:00"


def test_service_hours_all_day_and_overnight() -> None:
    always = ServiceHours.parse("00:00-24:00", "+00:00")
    assert always.is_open(datetime(2026, 1, 1, 23, 59, 59, tzinfo=timezone.utc))
    assert always.end == time.max
    night = ServiceHours.parse("22:00-06:00", "+00:00")
    assert night.is_open(datetime(2026, 1, 1, 23, 0, tzinfo=timezone.utc))
    assert night.is_open(datetime(2026, 1, 1, 5, 0, tzinfo=timezone.utc))
    assert not night.is_open(datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("hours", ["9-21", "25:00-26:00", "09:00-24:30", ""])
def test_service_hours_rejects_nonsense(hours: str) -> None:
    with pytest.raises(SettingsError):
        ServiceHours.parse(hours, "+08:00")


def test_settings_from_env_defaults_and_overrides(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({})
    assert settings.rasa_url == "http://localhost:5005"
    assert settings.port == 8080
    assert settings.database_url.endswith("var/gateway.db")
    assert not settings.demo_mode
    assert "CUSTOMER_TOKEN_SECRET is not set" in caplog.text
    custom = Settings.from_env(
        {
            "RASA_URL": "http://rasa:5005/",
            "GATEWAY_PORT": "9000",
            "CUSTOMER_TOKEN_SECRET": "s",
            "AGENT_SESSION_SECRET": "t",
            "SERVICE_HOURS": "08:30-20:00",
            "SERVICE_UTC_OFFSET": "+01:00",
            "DEMO_MODE": "1",
        }
    )
    assert custom.rasa_url == "http://rasa:5005"
    assert custom.port == 9000
    assert custom.demo_mode
    assert custom.service_hours.utc_offset == timedelta(hours=1)


def test_customer_token_valid() -> None:
    token = issue_customer_token("C1001", SECRET)
    assert verify_customer_token(token, SECRET) == "C1001"


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "not-a-jwt",
        issue_customer_token("C1001", "another-secret-that-is-long-enough-too"),  # forged
        issue_customer_token("C1001", SECRET, ttl=timedelta(seconds=-5)),  # expired
        jwt.encode({"sub": "C1001"}, SECRET, algorithm="HS256"),  # no expiry
        jwt.encode({"sub": "C1001", "exp": 4102444800}, None, algorithm="none"),  # alg none
        jwt.encode({"exp": 4102444800}, SECRET, algorithm="HS256"),  # no subject
    ],
)
def test_customer_token_rejected_is_anonymous(token: str | None) -> None:
    assert verify_customer_token(token, SECRET) is None


def test_parse_turn_extracts_handoff_signal() -> None:
    turn = parse_turn(
        [
            {"recipient_id": "x", "text": "好的，正在为您转接人工客服。"},
            {
                "recipient_id": "x",
                "custom": {
                    "handoff": {
                        "reason": "customer_request",
                        "intent": "human_agent",
                        "order_id": None,
                    }
                },
            },
        ]
    )
    assert [r.text for r in turn.replies] == ["好的，正在为您转接人工客服。"]
    assert turn.handoff is not None
    assert turn.handoff.reason == "customer_request"
    assert turn.handoff.intent == "human_agent"
    assert turn.handoff.order_id is None


def test_parse_turn_buttons_and_no_handoff() -> None:
    turn = parse_turn(
        [
            {
                "text": "要转人工吗？",
                "buttons": [{"title": "是", "payload": "/affirm"}, {"bad": 1}],
            },
            {"image": "https://example.com/a.png"},
        ]
    )
    assert turn.handoff is None
    assert turn.replies[0].buttons == ({"title": "是", "payload": "/affirm"},)
    assert turn.replies[1].image == "https://example.com/a.png"


def test_parse_turn_rejects_garbage() -> None:
    with pytest.raises(RasaUnavailable):
        parse_turn({"error": "boom"})


def test_language_detection() -> None:
    assert detect_language("我的快递到哪了") == "zh"
    assert detect_language("where is my parcel") == "en"
    assert detect_language("DD202611010001") is None
    assert detect_language("/affirm") is None
    assert pick_language("8000", "en", None) == "en"
    assert pick_language("8000", None, None) == "zh"
    assert pick_language("hello", None, "zh") == "en"
    assert pick_language("hello", "zh", "zh") == "zh"  # the UI language the customer chose
    assert pick_language("你好", "en", "en") == "zh"  # Chinese text is unambiguous


def test_password_hash_roundtrip() -> None:
    encoded = hash_password("s3cret-pass")
    assert encoded.startswith("scrypt$")
    assert "s3cret-pass" not in encoded
    assert verify_password("s3cret-pass", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("s3cret-pass", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_masking_for_the_card() -> None:
    assert _mask_slot("phone_last4", "8000") == "****"
    assert "13800138000" not in str(_mask_slot("new_value", "13800138000"))
    data = masked({"recipient_phone": "13800138000", "address": "上海市浦东新区张江路88号"})
    assert data["recipient_phone"] == "138****8000"
    assert "张江路88号" not in data["address"]


def test_a_verified_token_is_not_decoded_again_but_still_expires(monkeypatch) -> None:  # noqa: ANN001
    from bot import identity

    decoded: list[str] = []
    real_decode = jwt.decode

    def counting(token, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(identity.jwt, "decode", counting)
    token = issue_customer_token("C1002", SECRET, ttl=timedelta(seconds=2))
    assert [verify_customer_token(token, SECRET) for _ in range(3)] == ["C1002"] * 3
    assert decoded == [token]  # the signature was checked once
    assert verify_customer_token(token, "another-secret-that-is-long-enough-too") is None
    middle = len(token) - 20  # inside the signature, whose every character counts
    forged = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    assert verify_customer_token(forged, SECRET) is None
    import time as clock

    clock.sleep(2.1)  # past its expiry
    assert verify_customer_token(token, SECRET) is None
    assert (SECRET, token) not in identity._verified
