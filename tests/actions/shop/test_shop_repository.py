"""Repository behaviour: isolation between customers, cancellation, changes, returns,
cases, handoffs, loyalty, coupons and identity checks."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.shop.models import OrderChangeRow, OrderRow, ReturnRow
from actions.shop.policy import NotAllowed, shop_today
from actions.shop.repository import ShopRepository, _with_order_details, order_dto


def _changes(engine: Engine, order_id: str) -> list[tuple[str, str, str]]:
    with Session(engine, future=True) as s:
        rows = s.execute(
            select(OrderChangeRow)
            .where(OrderChangeRow.order_id == order_id)
            .order_by(OrderChangeRow.id)
        ).scalars()
        return [(r.field, r.old_value_masked, r.new_value_masked) for r in rows]


# --- reads ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_orders_only_the_customers_own_newest_first(repo: ShopRepository) -> None:
    mine = await repo.list_orders("C1001", limit=10)
    assert [o.id for o in mine] == [
        "DD202611010003",
        "DD202611010001",
        "DD202611010002",
        "DD202610150004",
    ]
    assert [o.id for o in await repo.list_orders("C1001")][:2] == [
        "DD202611010003",
        "DD202611010001",
    ]
    assert len(await repo.list_orders("C1001", limit=2)) == 2
    lina = await repo.list_orders("C1002", limit=50)
    assert {o.id for o in lina} == {"DD202611010005", "DD202610280006"}
    assert all(o.customer_id == "C1002" for o in lina)
    generated = await repo.list_orders("C2001", limit=50)
    assert generated and all(o.customer_id == "C2001" for o in generated)
    created = [o.created_at for o in generated]
    assert created == sorted(created, reverse=True)
    assert await repo.list_orders("C9999") == []


@pytest.mark.asyncio
async def test_get_order_unknown_and_concurrent_reads(repo: ShopRepository) -> None:
    assert await repo.get_order("DD000000000000") is None
    ids = ["DD202611010001", "DD202611010002", "DD202611010005", "DD202611010007"] * 5
    orders = await asyncio.gather(*(repo.get_order(i) for i in ids))
    assert [o.id for o in orders if o] == ids


@pytest.mark.asyncio
async def test_order_reads_equal_the_orm_loaded_orders(
    repo: ShopRepository, engine: Engine
) -> None:
    """The Core reads of the hot path give the DTO the ORM's eager loading gives, for every
    order of the seeded shop (with and without items, shipments and tracking events)."""
    with Session(engine, future=True) as s:
        rows = s.execute(_with_order_details(select(OrderRow))).scalars().all()
        expected = {row.id: order_dto(row) for row in rows}
    assert len(expected) > 400
    assert any(o.shipment and len(o.shipment.events) > 1 for o in expected.values())
    assert any(o.shipment is None for o in expected.values())
    for order_id, order in expected.items():
        assert await repo.get_order(order_id) == order
        if order.shipment is not None:
            found = await repo.find_order_by_tracking_no(order.shipment.tracking_no)
            assert found is not None and found.shipment == order.shipment
    by_customer: dict[str, list] = {}
    for order in expected.values():
        by_customer.setdefault(order.customer_id, []).append(order)
    for customer, orders in list(by_customer.items())[:60]:
        newest = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)
        assert await repo.list_orders(customer, limit=3) == newest[:3]


@pytest.mark.asyncio
async def test_find_order_by_tracking_no(repo: ShopRepository) -> None:
    order = await repo.find_order_by_tracking_no("YT5566778899")
    assert order is not None and order.id == "DD202611010007"
    assert await repo.find_order_by_tracking_no("SF0000000000") is None


@pytest.mark.asyncio
async def test_verify_phone_last4(repo: ShopRepository) -> None:
    assert await repo.verify_phone_last4("DD202611010001", "8000") is True
    assert await repo.verify_phone_last4("DD202611010001", "0000") is False
    assert await repo.verify_phone_last4("DD202611010001", "800") is False
    assert await repo.verify_phone_last4("DD202611010001", "") is False
    assert await repo.verify_phone_last4("DD202611010005", "9000") is True
    assert await repo.verify_phone_last4("DD202611010005", "8000") is False  # C1001's digits
    assert await repo.verify_phone_last4("DD202611010007", "0123") is True
    assert await repo.verify_phone_last4("DD999999999999", "8000") is False


@pytest.mark.asyncio
async def test_loyalty_and_coupons(repo: ShopRepository, now: datetime) -> None:
    assert await repo.get_loyalty("C9999", now=now) is None
    coupons = await repo.list_coupons("C1001", now=now)
    assert [c.code for c in coupons] == ["DEMO-ZW-30", "DEMO-ZW-10"]  # soonest expiry first
    assert coupons[0].amount_off == Decimal("30.00") and coupons[0].min_spend == Decimal("300.00")
    assert coupons[0].expires_on == shop_today(now) + timedelta(days=20)
    assert not any(c.used for c in coupons)
    with_used = await repo.list_coupons("C1001", include_used=True, now=now)
    assert {c.code: c.used for c in with_used} == {
        "DEMO-ZW-30": False,
        "DEMO-ZW-10": False,
        "DEMO-ZW-20": True,
    }
    assert [c.code for c in await repo.list_coupons("C1003", now=now)] == [
        "DEMO-EC-15",
        "DEMO-EC-50",
    ]
    assert await repo.list_coupons("C1002", now=now) == []


@pytest.mark.asyncio
async def test_list_returns_by_customer(repo: ShopRepository) -> None:
    lina = await repo.list_returns(customer_id="C1002")
    assert [r.id for r in lina] == ["RT20261105001"]
    assert await repo.list_returns(customer_id="C1001") == []
    assert await repo.get_return("RT00000000000") is None
    with pytest.raises(ValueError):
        await repo.list_returns()


# --- cancel --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancel_paid_order_is_persisted(
    fresh_repo: ShopRepository, fresh_engine: Engine, now: datetime
) -> None:
    at = now + timedelta(minutes=1)
    cancelled = await fresh_repo.cancel_order("DD202611010003", "changed_mind", now=at)
    assert (cancelled.status, cancelled.cancelled_at, cancelled.cancel_reason) == (
        "cancelled",
        at,
        "changed_mind",
    )
    reread = await ShopRepository(fresh_engine).get_order("DD202611010003")
    assert reread == cancelled
    with pytest.raises(NotAllowed) as again:
        await fresh_repo.cancel_order("DD202611010003", "twice")
    assert again.value.code == "already_cancelled"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order_id", "code"),
    [
        ("DD202611010001", "already_shipped"),  # shipped
        ("DD202611010002", "already_shipped"),  # delivered
        ("DD202610280006", "already_shipped"),  # returned
    ],
)
async def test_cancel_refused_after_shipment(
    repo: ShopRepository, order_id: str, code: str
) -> None:
    before = await repo.get_order(order_id)
    with pytest.raises(NotAllowed) as refused:
        await repo.cancel_order(order_id, "please")
    assert refused.value.code == code
    assert await repo.get_order(order_id) == before


@pytest.mark.asyncio
async def test_cancel_refused_for_cancelled_and_unknown(
    repo: ShopRepository, engine: Engine
) -> None:
    with Session(engine, future=True) as s:
        from actions.shop.models import OrderRow

        cancelled_id = s.execute(
            select(OrderRow.id).where(OrderRow.status == "cancelled").limit(1)
        ).scalar_one()
    before = await repo.get_order(cancelled_id)
    with pytest.raises(NotAllowed) as refused:
        await repo.cancel_order(cancelled_id, "again")
    assert refused.value.code == "already_cancelled"
    assert await repo.get_order(cancelled_id) == before
    with pytest.raises(NotAllowed) as unknown:
        await repo.cancel_order("DD999999999999", "x")
    assert unknown.value.code == "not_found"


# --- change --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_change_before_shipment(
    fresh_repo: ShopRepository, fresh_engine: Engine, now: datetime
) -> None:
    oid = "DD202611010003"
    changed = await fresh_repo.change_order(oid, "address", "  上海市徐汇区漕溪北路 88号 1201室 ")
    assert changed.address == "上海市徐汇区漕溪北路 88号 1201室"
    changed = await fresh_repo.change_order(oid, "phone", "+86 139-0013-9001")
    assert changed.recipient_phone == "13900139001"
    changed = await fresh_repo.change_order(oid, "phone", "+1 415 555 0199")
    assert changed.recipient_phone == "+14155550199"
    changed = await fresh_repo.change_order(oid, "delivery_time", "Weekend")
    assert changed.delivery_time_pref == "weekend"
    wanted = (shop_today(now) + timedelta(days=3)).isoformat()
    changed = await fresh_repo.change_order(oid, "delivery_time", wanted, now=now)
    assert changed.delivery_time_pref == wanted
    assert (await fresh_repo.get_order(oid)) == changed
    assert _changes(fresh_engine, oid) == [
        ("address", "上海市浦东新****", "上海市徐汇区****"),
        ("phone", "138****8000", "139****9001"),
        ("phone", "139****9001", "+1415***0199"),
        ("delivery_time", "weekday", "weekend"),
        ("delivery_time", "weekend", wanted),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "12345678"),  # digits only
        ("address", "上海"),  # too short
        ("address", "somewhere nice"),  # no CJK, no digit
        ("address", "北" * 121),  # too long
        ("phone", "12345"),
        ("phone", "23800138000"),  # not a mobile prefix
        ("phone", "138001380001"),  # 12 digits
        ("delivery_time", "tonight"),
        ("delivery_time", "2020-01-01"),  # past
        ("delivery_time", "+30d"),
    ],
)
async def test_change_rejects_invalid_values(
    fresh_repo: ShopRepository, fresh_engine: Engine, field: str, value: str
) -> None:
    before = await fresh_repo.get_order("DD202611010003")
    with pytest.raises(NotAllowed) as refused:
        await fresh_repo.change_order("DD202611010003", field, value)
    assert refused.value.code == "invalid_value"
    assert await fresh_repo.get_order("DD202611010003") == before
    assert _changes(fresh_engine, "DD202611010003") == []


@pytest.mark.asyncio
async def test_change_date_beyond_14_days_rejected(
    fresh_repo: ShopRepository, now: datetime
) -> None:
    too_late = (shop_today(now) + timedelta(days=15)).isoformat()
    with pytest.raises(NotAllowed) as refused:
        await fresh_repo.change_order("DD202611010003", "delivery_time", too_late, now=now)
    assert refused.value.code == "invalid_value"


@pytest.mark.asyncio
async def test_change_refused_after_shipment(repo: ShopRepository, engine: Engine) -> None:
    before = await repo.get_order("DD202611010001")
    with pytest.raises(NotAllowed) as refused:
        await repo.change_order("DD202611010001", "address", "上海市徐汇区漕溪北路88号1201室")
    assert refused.value.code == "already_shipped"
    assert await repo.get_order("DD202611010001") == before
    assert _changes(engine, "DD202611010001") == []
    with pytest.raises(NotAllowed) as bad_field:
        await repo.change_order("DD202611010003", "email", "a@b.c")
    assert bad_field.value.code == "invalid_field"


# --- returns -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_return_inside_window(
    fresh_repo: ShopRepository, fresh_engine: Engine, now: datetime
) -> None:
    at = now + timedelta(minutes=1)
    ret = await fresh_repo.create_return("DD202611010002", "TSH-002", "return", "no_reason", now=at)
    prefix = f"RT{shop_today(at):%Y%m%d}"
    assert re.fullmatch(rf"{prefix}\d{{3}}", ret.id)
    with Session(fresh_engine, future=True) as s:
        same_day = s.execute(
            select(func.count()).select_from(ReturnRow).where(ReturnRow.id.like(f"{prefix}%"))
        ).scalar()
    assert int(ret.id[-3:]) == same_day  # next number of the day's sequence
    assert (ret.order_id, ret.sku, ret.kind, ret.reason, ret.status) == (
        "DD202611010002",
        "TSH-002",
        "return",
        "no_reason",
        "requested",
    )
    assert ret.refund_amount == Decimal("158.00") and ret.refund_method == "alipay"
    assert ret.created_at == at and ret.refunded_at is None
    assert await fresh_repo.get_return(ret.id) == ret
    assert ret in await fresh_repo.list_returns(customer_id="C1001")
    with pytest.raises(NotAllowed) as duplicate:
        await fresh_repo.create_return("DD202611010002", "TSH-002", "exchange", "no_reason", now=at)
    assert duplicate.value.code == "already_requested"


@pytest.mark.asyncio
async def test_create_exchange_has_no_refund_and_sku_defaults(
    fresh_repo: ShopRepository, now: datetime
) -> None:
    ret = await fresh_repo.create_return("DD202611010002", None, "exchange", "quality", now=now)
    assert ret.sku == "TSH-002" and ret.refund_amount is None and ret.kind == "exchange"
    with pytest.raises(NotAllowed) as unknown:
        await fresh_repo.create_return("DD202611010002", "NOPE-1", "return", "quality", now=now)
    assert unknown.value.code == "unknown_item"


@pytest.mark.asyncio
async def test_return_after_window_goes_to_warranty(
    fresh_repo: ShopRepository, now: datetime
) -> None:
    with pytest.raises(NotAllowed) as closed:
        await fresh_repo.create_return("DD202610150004", "KET-004", "return", "quality", now=now)
    assert closed.value.code == "window_closed"
    repair = await fresh_repo.create_return(
        "DD202610150004", "KET-004", "repair", "quality", now=now
    )
    assert repair.kind == "repair" and repair.refund_amount is None
    assert repair.refund_method == "wechat_pay"


@pytest.mark.asyncio
@pytest.mark.parametrize("order_id", ["DD202611010001", "DD202611010003"])
async def test_return_of_undelivered_order_refused(
    repo: ShopRepository, now: datetime, order_id: str
) -> None:
    with pytest.raises(NotAllowed) as refused:
        await repo.create_return(order_id, None, "return", "no_reason", now=now)
    assert refused.value.code == "not_delivered"
    assert await repo.list_returns(order_id=order_id) == []


@pytest.mark.asyncio
async def test_return_invalid_kind_and_unknown_order(repo: ShopRepository) -> None:
    with pytest.raises(NotAllowed) as kind:
        await repo.create_return("DD202611010002", "TSH-002", "swap", "no_reason")
    assert kind.value.code == "invalid_value"
    with pytest.raises(NotAllowed) as missing:
        await repo.create_return("DD999999999999", "TSH-002", "return", "no_reason")
    assert missing.value.code == "not_found"


# --- cases and handoffs --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_case(fresh_repo: ShopRepository, now: datetime) -> None:
    case = await fresh_repo.create_case(
        "DD202611010002", "C1001", "wrong_item", "收到的颜色不对", now=now
    )
    assert re.fullmatch(rf"AS{shop_today(now):%Y%m%d}\d{{3}}", case.id)
    assert (case.order_id, case.customer_id, case.kind, case.status) == (
        "DD202611010002",
        "C1001",
        "wrong_item",
        "open",
    )
    inferred = await fresh_repo.create_case("DD202611010005", None, "not_received", "", now=now)
    assert inferred.customer_id == "C1002" and inferred.id != case.id
    reporter = await fresh_repo.create_case("DD202611010005", "C1001", "damaged", "x", now=now)
    assert reporter.customer_id == "C1001"  # who reported, not necessarily the owner
    with pytest.raises(NotAllowed) as unknown:
        await fresh_repo.create_case("DD999999999999", None, "damaged", "x")
    assert unknown.value.code == "not_found"
    with pytest.raises(NotAllowed) as bad_kind:
        await fresh_repo.create_case("DD202611010005", "C1002", "lost", "x")
    assert bad_kind.value.code == "invalid_value"


@pytest.mark.asyncio
async def test_concurrent_cases_get_distinct_ids(fresh_repo: ShopRepository) -> None:
    cases = await asyncio.gather(
        *(fresh_repo.create_case(None, "C1001", "other", f"n{i}") for i in range(6))
    )
    assert len({c.id for c in cases}) == 6


@pytest.mark.asyncio
async def test_record_handoff(fresh_repo: ShopRepository, now: datetime) -> None:
    first = await fresh_repo.record_handoff(
        "conv-1", "C1003", "DD202611010007", "logistics_exception", "track_shipment", now=now
    )
    second = await fresh_repo.record_handoff(
        "conv-2", None, None, "customer_request", None, now=now
    )
    assert re.fullmatch(rf"HO{shop_today(now):%Y%m%d}\d{{5}}", first.id)
    assert first.id < second.id
    assert (first.conversation_id, first.customer_id, first.order_id, first.reason) == (
        "conv-1",
        "C1003",
        "DD202611010007",
        "logistics_exception",
    )
    assert first.intent == "track_shipment" and first.created_at == now
    assert (second.customer_id, second.order_id, second.intent) == (None, None, None)
