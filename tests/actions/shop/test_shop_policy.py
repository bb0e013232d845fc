"""Pure rules: cancellation, changes, return decisions, logistics exceptions, refund ETA,
and masking."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest

from actions.shop import policy
from actions.shop.dto import Order, OrderItem, Shipment, TrackingEvent
from actions.shop.masking import mask_address, mask_phone, mask_text
from actions.shop.policy import NotAllowed
from actions.shop.repository import ShopRepository

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=timezone(timedelta(0)))  # noon in Shanghai
TODAY = policy.shop_today(NOW)


def make_order(
    status: str = "delivered", delivered_days_ago: float | None = 3, **kw: object
) -> Order:
    """A one-line order delivered ``delivered_days_ago`` days before NOW."""
    delivered = NOW - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    fields: dict[str, object] = {
        "id": "DD202611010099",
        "customer_id": "C1001",
        "status": status,
        "payment_method": "wechat_pay",
        "total": 0,
        "created_at": NOW - timedelta(days=40),
        "paid_at": None,
        "shipped_at": None,
        "delivered_at": delivered,
        "cancelled_at": None,
        "cancel_reason": None,
        "recipient_name": "张伟",
        "recipient_phone": "13800138000",
        "address": "上海市浦东新区张江路88弄6号1202室",
        "delivery_time_pref": "anytime",
        "items": (OrderItem("KET-004", "电热水壶", "Electric kettle", 1, 189, 12),),
        "shipment": None,
    }
    fields.update(kw)
    return Order(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "allowed", "code"),
    [
        ("pending_payment", True, None),
        ("paid", True, None),
        ("shipped", False, "already_shipped"),
        ("delivered", False, "already_shipped"),
        ("returned", False, "already_shipped"),
        ("cancelled", False, "already_cancelled"),
    ],
)
def test_can_cancel_and_change(status: str, allowed: bool, code: str | None) -> None:
    order = make_order(status)
    assert policy.can_cancel(order) is allowed
    assert policy.can_change(order) is allowed
    assert policy.cancel_refusal(order) == code


def test_validate_change_normalises() -> None:
    assert (
        policy.validate_change("address", " 北京市 朝阳区建国路93号 ") == "北京市 朝阳区建国路93号"
    )
    assert (
        policy.validate_change("address", "Flat 3, 12 Century Avenue")
        == "Flat 3, 12 Century Avenue"
    )
    assert policy.validate_change("phone", "139 0013 9000") == "13900139000"
    assert policy.validate_change("phone", "+8613900139000") == "13900139000"
    assert policy.validate_change("phone", "+44 20 7946 0958") == "+442079460958"
    assert policy.validate_change("delivery_time", "ANYTIME") == "anytime"
    assert policy.validate_change("delivery_time", "工作日") == "weekday"
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    last = (TODAY + timedelta(days=14)).isoformat()
    assert policy.validate_change("delivery_time", tomorrow, NOW) == tomorrow
    assert policy.validate_change("delivery_time", last, NOW) == last
    for bad in (TODAY.isoformat(), (TODAY + timedelta(days=15)).isoformat(), "2026-13-01"):
        with pytest.raises(NotAllowed) as refused:
            policy.validate_change("delivery_time", bad, NOW)
        assert refused.value.code == "invalid_value"
    with pytest.raises(NotAllowed) as field:
        policy.validate_change("name", "x")
    assert field.value.code == "invalid_field"


@pytest.mark.asyncio
async def test_return_decisions_of_demo_orders(repo: ShopRepository, now: datetime) -> None:
    recent = await repo.get_order("DD202611010002")  # delivered day -3
    assert recent is not None and recent.delivered_at is not None
    delivered_on = policy.shop_date(recent.delivered_at)
    for reason in ("no_reason", "quality", "damaged", "wrong_item"):
        decision = policy.return_decision(recent, reason, now)
        assert decision == policy.ReturnDecision(
            True, "return", delivered_on + timedelta(days=7), "ok"
        )
    old = await repo.get_order("DD202610150004")  # delivered day -30
    assert old is not None and old.delivered_at is not None
    for reason in ("no_reason", "quality"):
        decision = policy.return_decision(old, reason, now)
        assert (decision.allowed, decision.route, decision.code) == (
            False,
            "warranty",
            "window_closed",
        )
        assert decision.deadline == policy.add_months(policy.shop_date(old.delivered_at), 12)
    for undelivered in ("DD202611010001", "DD202611010003", "DD202611010005"):
        order = await repo.get_order(undelivered)
        assert order is not None
        decision = policy.return_decision(order, "quality", now)
        assert (decision.allowed, decision.code) == (False, "not_delivered")
    returned = await repo.get_order("DD202610280006")
    assert returned is not None
    assert policy.return_decision(returned, "quality", now).code == "already_returned"


def test_return_windows_by_reason() -> None:
    day10 = make_order(delivered_days_ago=10)
    quality = policy.return_decision(day10, "quality", NOW)
    assert (quality.allowed, quality.route, quality.code) == (True, "return", "ok")
    assert quality.deadline == TODAY - timedelta(days=10) + timedelta(days=15)
    for reason in ("damaged", "wrong_item"):
        assert policy.return_decision(day10, reason, NOW).allowed
    no_reason = policy.return_decision(day10, "no_reason", NOW)
    assert (no_reason.allowed, no_reason.route, no_reason.code) == (
        False,
        "warranty",
        "window_closed",
    )
    # the last day of each window still counts, the day after does not
    assert policy.return_decision(make_order(delivered_days_ago=7), "no_reason", NOW).allowed
    assert not policy.return_decision(make_order(delivered_days_ago=8), "no_reason", NOW).allowed
    assert policy.return_decision(make_order(delivered_days_ago=15), "quality", NOW).allowed
    assert not policy.return_decision(make_order(delivered_days_ago=16), "quality", NOW).allowed


def test_return_after_warranty_goes_to_a_person() -> None:
    expired = make_order(delivered_days_ago=400)
    decision = policy.return_decision(expired, "quality", NOW)
    assert decision == policy.ReturnDecision(False, "handoff", None, "warranty_expired")
    no_warranty = make_order(
        delivered_days_ago=20,
        items=(OrderItem("TSH-002", "纯棉T恤", "Cotton T-shirt", 2, 79, 0),),
    )
    assert policy.return_decision(no_warranty, "quality", NOW).route == "handoff"
    assert policy.return_decision(make_order(), "bored", NOW).code == "invalid_value"


def test_refund_eta() -> None:
    assert policy.refund_eta("wechat_pay", NOW) == (1, 3)
    assert policy.refund_eta("alipay", NOW) == (1, 3)
    assert policy.refund_eta("card", NOW) == (3, 7)
    assert policy.refund_eta("cod", NOW) == (3, 7)
    # Wednesday 25 Nov 2026 (Shanghai): 1-3 business days -> Thu 26 .. Mon 30
    assert policy.refund_arrival("wechat_pay", NOW) == (date(2026, 11, 26), date(2026, 11, 30))
    assert policy.add_business_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri -> Mon


@pytest.mark.asyncio
async def test_logistics_exceptions_of_demo_orders(repo: ShopRepository, now: datetime) -> None:
    overdue = await repo.get_order("DD202611010007")
    on_time = await repo.get_order("DD202611010001")
    delivered = await repo.get_order("DD202611010002")
    jd = await repo.get_order("DD202611010005")
    assert overdue and on_time and delivered and jd
    assert policy.logistics_exception(overdue.shipment, now) == "overdue"
    assert policy.logistics_exception(on_time.shipment, now) is None
    assert policy.logistics_exception(delivered.shipment, now) is None
    assert policy.logistics_exception(jd.shipment, now) is None
    assert policy.logistics_exception(None, now) is None


def test_logistics_stale_without_scan_for_three_days() -> None:
    shipment = Shipment(
        "中通快递",
        "ZTO Express",
        "ZT1",
        NOW - timedelta(days=4),
        TODAY + timedelta(days=1),
        None,
        (TrackingEvent(NOW - timedelta(days=3, minutes=1), "到达", "Arrived"),),
    )
    assert policy.logistics_exception(shipment, NOW) == "stale"
    fresh = dataclasses.replace(
        shipment, events=(TrackingEvent(NOW - timedelta(days=2), "到达", "Arrived"),)
    )
    assert policy.logistics_exception(fresh, NOW) is None
    no_events = dataclasses.replace(shipment, events=())
    assert policy.logistics_exception(no_events, NOW) == "stale"  # shipped 4 days ago
    due_today = dataclasses.replace(fresh, expected_delivery=TODAY)
    assert policy.logistics_exception(due_today, NOW) is None


def test_masking() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+14155550123") == "+1415***0123"
    assert mask_phone("") == ""
    assert mask_phone("8000") == "****"
    assert mask_address("上海市浦东新区张江路88弄6号1202室") == "上海市浦东新****"
    assert mask_address("北京市朝阳区建国路93号") == "北京市朝阳区****"
    assert mask_address("Shanghai, Jing'an District, 1788 Nanjing West Road, Apt 2301") == (
        "Shanghai ****"
    )
    assert mask_address("1788 Nanjing West Road, Jing'an, Shanghai") == "Shanghai ****"
    assert mask_address("") == ""
    text = (
        "电话13800138000，订单DD202611010001，运单SF1234567890，"
        "call +1 415 555 0123 or 138-0013-8000"
    )
    assert mask_text(text) == (
        "电话138****8000，订单DD202611010001，运单SF1234567890，call +1415***0123 or 138****8000"
    )
    assert mask_text("积分 2350，金额 499.00") == "积分 2350，金额 499.00"
