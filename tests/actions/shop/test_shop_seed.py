"""The seeded database holds every demo fixture fact exactly, plus the generated volume."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.shop import seed as seed_module
from actions.shop.db import build_engine
from actions.shop.models import (
    CustomerRow,
    LoyaltyAccountRow,
    OrderRow,
    ReturnRow,
    ShipmentRow,
)
from actions.shop.policy import shop_today
from actions.shop.repository import ShopRepository

FIXTURE_FILE = Path(__file__).resolve().parents[3].parent / "shared" / "demo_fixture.yml"


def _days(now: datetime, days: float) -> datetime:
    return now + timedelta(days=days)


@pytest.mark.asyncio
async def test_fixture_customers_exact(repo: ShopRepository) -> None:
    c1 = await repo.get_customer("C1001")
    assert c1 is not None
    assert (c1.name, c1.phone, c1.wechat_openid, c1.language) == (
        "张伟",
        "13800138000",
        "o_demo_zhangwei",
        "zh",
    )
    c2 = await repo.get_customer("C1002")
    assert c2 is not None
    assert (c2.name, c2.phone, c2.wechat_openid, c2.language) == (
        "李娜",
        "13900139000",
        "o_demo_lina",
        "zh",
    )
    c3 = await repo.get_customer("C1003")
    assert c3 is not None
    assert (c3.name, c3.phone, c3.wechat_openid, c3.language) == (
        "Emily Chen",
        "+14155550123",
        None,
        "en",
    )
    assert await repo.get_customer_by_openid("o_demo_zhangwei") == c1
    assert await repo.get_customer_by_openid("o_demo_lina") == c2
    assert await repo.get_customer_by_openid("o_nobody") is None
    assert await repo.get_customer("C9999") is None


@pytest.mark.asyncio
async def test_fixture_loyalty_exact(repo: ShopRepository, now: datetime) -> None:
    today = shop_today(now)
    gold = await repo.get_loyalty("C1001", now=now)
    assert gold is not None
    assert (gold.tier, gold.tier_en, gold.points) == ("金卡", "Gold", 2350)
    assert (gold.expiring_points, gold.expiring_on) == (500, today + timedelta(days=38))
    lina = await repo.get_loyalty("C1002", now=now)
    assert lina is not None
    assert (lina.tier, lina.tier_en, lina.points, lina.expiring_points) == (
        "银卡",
        "Silver",
        820,
        0,
    )
    emily = await repo.get_loyalty("C1003", now=now)
    assert emily is not None
    assert (emily.tier, emily.tier_en, emily.points, emily.expiring_on) == (
        "银卡",
        "Silver",
        800,
        None,
    )


@pytest.mark.asyncio
async def test_fixture_orders_exact(repo: ShopRepository, now: datetime) -> None:
    today = shop_today(now)
    o1 = await repo.get_order("DD202611010001")
    assert o1 is not None and o1.customer_id == "C1001" and o1.status == "shipped"
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o1.items] == [
        ("EAR-001", "蓝牙耳机", "Bluetooth earphones", 1, Decimal("299.00"))
    ]
    assert o1.total == Decimal("299.00")
    assert o1.shipment is not None
    s1 = o1.shipment
    assert (s1.carrier, s1.carrier_en, s1.tracking_no) == ("顺丰速运", "SF Express", "SF1234567890")
    assert s1.delivered_at is None and s1.expected_delivery == today + timedelta(days=1)
    assert [(e.at, e.text, e.text_en) for e in s1.events] == [  # newest first
        (_days(now, -1), "快件已到达【上海转运中心】", "Arrived at Shanghai transfer centre"),
        (_days(now, -2), "商家已发货", "Shipped by the seller"),
    ]

    o2 = await repo.get_order("DD202611010002")
    assert o2 is not None and (o2.customer_id, o2.status) == ("C1001", "delivered")
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o2.items] == [
        ("TSH-002", "纯棉T恤", "Cotton T-shirt", 2, Decimal("79.00"))
    ]
    assert o2.total == Decimal("158.00") and o2.delivered_at == _days(now, -3)
    assert o2.shipment is not None
    assert (o2.shipment.carrier, o2.shipment.carrier_en, o2.shipment.tracking_no) == (
        "中通快递",
        "ZTO Express",
        "ZT7788990011",
    )
    assert o2.shipment.delivered_at == _days(now, -3)

    o3 = await repo.get_order("DD202611010003")
    assert o3 is not None and (o3.customer_id, o3.status, o3.shipment) == ("C1001", "paid", None)
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o3.items] == [
        ("MUG-003", "保温杯", "Thermal mug", 1, Decimal("129.00"))
    ]
    assert o3.paid_at is not None and o3.shipped_at is None

    o4 = await repo.get_order("DD202610150004")
    assert o4 is not None and (o4.customer_id, o4.status) == ("C1001", "delivered")
    assert [(i.sku, i.name, i.name_en, i.qty, i.price, i.warranty_months) for i in o4.items] == [
        ("KET-004", "电热水壶", "Electric kettle", 1, Decimal("189.00"), 12)
    ]
    assert o4.delivered_at == _days(now, -30)

    o5 = await repo.get_order("DD202611010005")
    assert o5 is not None and (o5.customer_id, o5.status) == ("C1002", "shipped")
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o5.items] == [
        ("BAG-005", "双肩包", "Backpack", 1, Decimal("359.00"))
    ]
    assert o5.shipment is not None
    assert (o5.shipment.carrier, o5.shipment.carrier_en, o5.shipment.tracking_no) == (
        "京东物流",
        "JD Logistics",
        "JD0099887766",
    )

    o6 = await repo.get_order("DD202610280006")
    assert o6 is not None and (o6.customer_id, o6.status) == ("C1002", "returned")
    assert o6.payment_method == "wechat_pay"
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o6.items] == [
        ("SHO-006", "跑步鞋", "Running shoes", 1, Decimal("499.00"))
    ]

    o7 = await repo.get_order("DD202611010007")
    assert o7 is not None and (o7.customer_id, o7.status) == ("C1003", "shipped")
    assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in o7.items] == [
        ("LMP-007", "台灯", "Desk lamp", 1, Decimal("149.00"))
    ]
    assert o7.shipment is not None
    s7 = o7.shipment
    assert (s7.carrier, s7.carrier_en, s7.tracking_no) == (
        "圆通速递",
        "YTO Express",
        "YT5566778899",
    )
    assert s7.expected_delivery == today - timedelta(days=1) and s7.delivered_at is None
    assert [(e.at, e.text, e.text_en) for e in s7.events] == [
        (_days(now, -5), "商家已发货", "Shipped by the seller")
    ]
    for order in (o1, o2, o3, o4, o5, o6, o7):
        assert order.address and order.recipient_name and order.recipient_phone


@pytest.mark.asyncio
async def test_fixture_return_exact(repo: ShopRepository, now: datetime) -> None:
    ret = await repo.get_return("RT20261105001")
    assert ret is not None
    assert (ret.order_id, ret.sku, ret.status, ret.refund_amount, ret.refund_method) == (
        "DD202610280006",
        "SHO-006",
        "refunded",
        Decimal("499.00"),
        "wechat_pay",
    )
    assert ret.refunded_at == _days(now, -1)
    assert await repo.list_returns(order_id="DD202610280006") == [ret]


@pytest.mark.asyncio
async def test_fixture_coupons(repo: ShopRepository, now: datetime) -> None:
    assert len(await repo.list_coupons("C1001", now=now)) >= 2
    assert len(await repo.list_coupons("C1003", now=now)) >= 2


def _load_fixture() -> dict[str, Any]:
    if not FIXTURE_FILE.exists():
        pytest.skip(f"{FIXTURE_FILE} not present")
    return yaml.safe_load(FIXTURE_FILE.read_text(encoding="utf-8"))


@pytest.mark.asyncio
async def test_every_fact_of_shared_fixture_file(repo: ShopRepository, now: datetime) -> None:
    """Walks shared/demo_fixture.yml itself, so a changed fixture fails here."""
    fixture = _load_fixture()
    today = shop_today(now)
    for c in fixture["customers"]:
        customer = await repo.get_customer(c["id"])
        assert customer is not None
        assert (customer.name, customer.phone, customer.language) == (
            c["name"],
            c["phone"],
            c["language"],
        )
        assert customer.wechat_openid == c.get("wechat_openid")
        loyalty = await repo.get_loyalty(c["id"], now=now)
        assert loyalty is not None
        assert (loyalty.tier, loyalty.tier_en, loyalty.points) == (
            c["loyalty"]["tier"],
            c["loyalty"]["tier_en"],
            c["loyalty"]["points"],
        )
        expiring = c["loyalty"].get("expiring")
        if expiring:
            assert loyalty.expiring_points == expiring["points"]
            assert loyalty.expiring_on == today + timedelta(days=expiring["on_day"])
        else:
            assert loyalty.expiring_points == 0
    for o in fixture["orders"]:
        order = await repo.get_order(o["id"])
        assert order is not None, o["id"]
        assert (order.customer_id, order.status) == (o["customer"], o["status"])
        assert [(i.sku, i.name, i.name_en, i.qty, i.price) for i in order.items] == [
            (
                i["sku"],
                i["name"],
                i["name_en"],
                i["qty"],
                Decimal(str(i["price"])).quantize(Decimal("0.01")),
            )
            for i in o["items"]
        ]
        if "delivered_day" in o:
            assert order.delivered_at == _days(now, o["delivered_day"])
        ship = o.get("shipment")
        if ship:
            assert order.shipment is not None
            got = order.shipment
            assert (got.carrier, got.carrier_en, got.tracking_no) == (
                ship["carrier"],
                ship["carrier_en"],
                ship["tracking_no"],
            )
            if "events" in ship:
                expected = [(_days(now, e["day"]), e["text"], e["text_en"]) for e in ship["events"]]
                assert [(e.at, e.text, e.text_en) for e in got.events] == sorted(
                    expected, reverse=True
                )
            if "expected_delivery_day" in ship:
                assert got.expected_delivery == today + timedelta(
                    days=ship["expected_delivery_day"]
                )
        ret = o.get("return")
        if ret:
            got_return = await repo.get_return(ret["id"])
            assert got_return is not None and got_return.order_id == o["id"]
            assert got_return.status == ret["status"]
            assert got_return.refund_amount == Decimal(str(ret["refund_amount"])).quantize(
                Decimal("0.01")
            )
            assert got_return.refunded_at == _days(now, ret["refund_day"])


def test_generated_volume_and_ids(engine: Engine, seeded_template: Any) -> None:
    counts = seeded_template.counts
    assert counts["customers"] >= 300 and counts["orders"] >= 3000
    assert counts["shipments"] > 2000 and counts["tracking_events"] > counts["shipments"]
    assert counts["returns"] > 50 and counts["points_ledger"] > 300
    assert seeded_template.seconds < 30
    fixture_ids = {o["id"] for o in seed_module.FIXTURE_ORDERS}
    with Session(engine, future=True) as s:
        ids = s.execute(select(OrderRow.id, OrderRow.customer_id)).all()
        assert all(re.fullmatch(r"DD\d{12}", oid) for oid, _ in ids)
        fixture_customers = {"C1001", "C1002", "C1003"}
        for oid, customer in ids:  # generated orders never take a fixture id or customer
            assert (oid in fixture_ids) == (customer in fixture_customers)
        phones = s.execute(select(CustomerRow.phone)).scalars().all()
        assert len(phones) == len(set(phones))
        openids = [o for o in s.execute(select(CustomerRow.wechat_openid)).scalars() if o]
        assert len(openids) == len(set(openids))
        statuses = set(s.execute(select(OrderRow.status).distinct()).scalars())
        assert statuses == {
            "pending_payment",
            "paid",
            "shipped",
            "delivered",
            "cancelled",
            "returned",
        }
        assert all(
            re.fullmatch(r"RT\d{11}", rid) for rid in s.execute(select(ReturnRow.id)).scalars()
        )
        trackings = s.execute(select(ShipmentRow.tracking_no)).scalars().all()
        assert len(trackings) == len(set(trackings))
        assert all(re.fullmatch(r"(SF|ZT|JD|YT|YD|ST|EMS)\d{10,13}", t) for t in trackings)
        # Generated balances are never negative and sit in the tier their points earn.
        accounts = s.execute(
            select(LoyaltyAccountRow).where(LoyaltyAccountRow.customer_id.like("C2%"))
        ).scalars()
        for account in accounts:
            assert account.points >= 0
            assert (account.tier, account.tier_en) == seed_module.tier_for(account.points)


def test_seed_is_deterministic(tmp_path: Path, now: datetime) -> None:
    """The same moment gives the same data."""
    rows = []
    for name in ("a.db", "b.db"):
        engine = build_engine(f"sqlite:///{tmp_path / name}")
        seed_module.seed(engine, now=now, extra_customers=20)
        with Session(engine, future=True) as s:
            rows.append(
                s.execute(
                    select(
                        OrderRow.id, OrderRow.customer_id, OrderRow.status, OrderRow.total
                    ).order_by(OrderRow.id)
                ).all()
            )
        engine.dispose()
    assert rows[0] == rows[1] and len(rows[0]) > 100


def test_cli_if_missing_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'shop.db'}"  # the folder is created
    args = ["--url", url, "--extra-customers", "5"]
    assert seed_module.main(["--if-missing", *args]) == 0
    assert "seeded" in capsys.readouterr().out
    engine = build_engine(url)
    first = seed_module.counts(engine)
    assert first["customers"] == 8
    assert seed_module.main(["--if-missing", *args]) == 0
    assert "already seeded" in capsys.readouterr().out
    assert seed_module.counts(engine) == first
    assert seed_module.main(args) == 1  # neither flag: refuses to seed twice
    assert seed_module.main(["--force", *args]) == 0
    assert seed_module.counts(engine) == first
    engine.dispose()
