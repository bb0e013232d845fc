"""Creates the shop schema and seeds the demo data.

``python -m actions.shop.seed [--if-missing | --force] [--url URL] [--extra-customers N]``

The demo facts of ``shared/demo_fixture.yml`` are written exactly (ids, names, phones,
amounts, states; day offsets relative to the moment of seeding), then deterministic
generated extras (``random.Random(20261125)``): by default 400 customers with about
4000 orders over the last 120 days, their shipments, tracking events, returns, points
ledger, loyalty accounts and coupons. Everything is written in one transaction with
bulk inserts.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.shop.db import build_engine, database_url, session_scope
from actions.shop.models import (
    CENT,
    AfterSalesCaseRow,
    CouponRow,
    CustomerRow,
    LoyaltyAccountRow,
    OrderItemRow,
    OrderRow,
    PointsLedgerRow,
    ReturnRow,
    ShipmentRow,
    TrackingEventRow,
    create_schema,
    drop_schema,
    metadata,
)
from actions.shop.policy import shop_date, shop_today, utcnow

SEED = 20261125
FIXTURE_CUSTOMER_ID = "C1001"

# --- the demo fixture (shared/demo_fixture.yml), as data ----------------------------------
# Offsets are days relative to the moment of seeding. Facts the fixture leaves open
# (creation and payment times, addresses, events of parcels without listed events,
# shipments of delivered orders) are filled in plausibly.

FIXTURE_CUSTOMERS: tuple[dict[str, Any], ...] = (
    {
        "id": "C1001",
        "name": "张伟",
        "phone": "13800138000",
        "wechat_openid": "o_demo_zhangwei",
        "language": "zh",
        "tier": "金卡",
        "tier_en": "Gold",
        "points": 2350,
        # (delta, reason, day booked, expires on day)
        "ledger": ((1850, "purchase", -200, 300), (500, "campaign", -60, 38)),
        "address": "上海市浦东新区张江路88弄6号1202室",
    },
    {
        "id": "C1002",
        "name": "李娜",
        "phone": "13900139000",
        "wechat_openid": "o_demo_lina",
        "language": "zh",
        "tier": "银卡",
        "tier_en": "Silver",
        "points": 820,
        "ledger": ((1000, "purchase", -150, 215), (-180, "redeem", -40, None)),
        "address": "北京市朝阳区建国路93号万达广场8号楼1605室",
    },
    {
        "id": "C1003",
        "name": "Emily Chen",
        "phone": "+14155550123",
        "wechat_openid": None,
        "language": "en",
        "tier": "银卡",
        "tier_en": "Silver",
        "points": 800,
        "ledger": ((800, "purchase", -90, 275),),
        "address": "Shanghai, Jing'an District, 1788 Nanjing West Road, Apt 2301",
    },
)

FIXTURE_ORDERS: tuple[dict[str, Any], ...] = (
    {
        "id": "DD202611010001",
        "customer": "C1001",
        "status": "shipped",
        "payment_method": "wechat_pay",
        "created_day": -3,
        "delivery_time_pref": "anytime",
        "items": (("EAR-001", "蓝牙耳机", "Bluetooth earphones", 1, "299.00"),),
        "shipment": {
            "carrier": "顺丰速运",
            "carrier_en": "SF Express",
            "tracking_no": "SF1234567890",
            "shipped_day": -2,
            "expected_delivery_day": 1,
            "delivered_day": None,
            "events": (
                (-2, "商家已发货", "Shipped by the seller"),
                (
                    -1,
                    "快件已到达【上海转运中心】",
                    "Arrived at Shanghai transfer centre",
                ),
            ),
        },
    },
    {
        "id": "DD202611010002",
        "customer": "C1001",
        "status": "delivered",
        "payment_method": "alipay",
        "created_day": -7,
        "delivery_time_pref": "anytime",
        "items": (("TSH-002", "纯棉T恤", "Cotton T-shirt", 2, "79.00"),),
        "shipment": {
            "carrier": "中通快递",
            "carrier_en": "ZTO Express",
            "tracking_no": "ZT7788990011",
            "shipped_day": -6,
            "expected_delivery_day": -3,
            "delivered_day": -3,
            "events": (
                (-6, "商家已发货", "Shipped by the seller"),
                (
                    -5,
                    "快件已到达【杭州转运中心】",
                    "Arrived at Hangzhou transfer centre",
                ),
                (-3.2, "快递员正在派送", "Out for delivery"),
                (-3, "已签收", "Delivered and signed for"),
            ),
        },
    },
    {
        "id": "DD202611010003",
        "customer": "C1001",
        "status": "paid",
        "payment_method": "wechat_pay",
        "created_day": -1,
        "delivery_time_pref": "weekday",
        "items": (("MUG-003", "保温杯", "Thermal mug", 1, "129.00"),),
        "shipment": None,
    },
    {
        "id": "DD202610150004",
        "customer": "C1001",
        "status": "delivered",
        "payment_method": "wechat_pay",
        "created_day": -34,
        "delivery_time_pref": "anytime",
        "items": (("KET-004", "电热水壶", "Electric kettle", 1, "189.00"),),
        "shipment": {
            "carrier": "京东物流",
            "carrier_en": "JD Logistics",
            "tracking_no": "JD0012345678",
            "shipped_day": -33,
            "expected_delivery_day": -31,
            "delivered_day": -30,
            "events": (
                (-33, "商家已发货", "Shipped by the seller"),
                (-30.2, "快递员正在派送", "Out for delivery"),
                (-30, "已签收", "Delivered and signed for"),
            ),
        },
    },
    {
        "id": "DD202611010005",
        "customer": "C1002",
        "status": "shipped",
        "payment_method": "alipay",
        "created_day": -2,
        "delivery_time_pref": "anytime",
        "items": (("BAG-005", "双肩包", "Backpack", 1, "359.00"),),
        "shipment": {
            "carrier": "京东物流",
            "carrier_en": "JD Logistics",
            "tracking_no": "JD0099887766",
            "shipped_day": -1,
            "expected_delivery_day": 1,
            "delivered_day": None,
            "events": ((-1, "商家已发货", "Shipped by the seller"),),
        },
    },
    {
        "id": "DD202610280006",
        "customer": "C1002",
        "status": "returned",
        "payment_method": "wechat_pay",
        "created_day": -28,
        "delivery_time_pref": "anytime",
        "items": (("SHO-006", "跑步鞋", "Running shoes", 1, "499.00"),),
        "shipment": {
            "carrier": "中通快递",
            "carrier_en": "ZTO Express",
            "tracking_no": "ZT5566001122",
            "shipped_day": -27,
            "expected_delivery_day": -25,
            "delivered_day": -25,
            "events": (
                (-27, "商家已发货", "Shipped by the seller"),
                (-25, "已签收", "Delivered and signed for"),
            ),
        },
        "return": {
            "id": "RT20261105001",
            "sku": "SHO-006",
            "kind": "return",
            "reason": "no_reason",
            "status": "refunded",
            "refund_amount": "499.00",
            "created_day": -20,
            "refund_day": -1,
        },
    },
    {
        "id": "DD202611010007",
        "customer": "C1003",
        "status": "shipped",
        "payment_method": "card",
        "created_day": -6,
        "delivery_time_pref": "anytime",
        "items": (("LMP-007", "台灯", "Desk lamp", 1, "149.00"),),
        "shipment": {
            "carrier": "圆通速递",
            "carrier_en": "YTO Express",
            "tracking_no": "YT5566778899",
            "shipped_day": -5,
            "expected_delivery_day": -1,
            "delivered_day": None,
            "events": ((-5, "商家已发货", "Shipped by the seller"),),
        },
    },
)

# (code, title, title_en, amount_off, min_spend, expires day, used day or None)
FIXTURE_COUPONS: dict[str, tuple[tuple[str, str, str, str, str, int, int | None], ...]] = {
    "C1001": (
        (
            "DEMO-ZW-30",
            "满300减30元",
            "¥30 off orders over ¥300",
            "30.00",
            "300.00",
            20,
            None,
        ),
        (
            "DEMO-ZW-10",
            "无门槛10元券",
            "¥10 off, no minimum spend",
            "10.00",
            "0.00",
            45,
            None,
        ),
        (
            "DEMO-ZW-20",
            "满200减20元",
            "¥20 off orders over ¥200",
            "20.00",
            "200.00",
            10,
            -5,
        ),
    ),
    "C1003": (
        (
            "DEMO-EC-15",
            "满150减15元",
            "¥15 off orders over ¥150",
            "15.00",
            "150.00",
            30,
            None,
        ),
        (
            "DEMO-EC-50",
            "满500减50元",
            "¥50 off orders over ¥500",
            "50.00",
            "500.00",
            60,
            None,
        ),
    ),
}

# --- vocabularies for generated data -----------------------------------------------------

TIERS = ((5000, "铂金卡", "Platinum"), (2000, "金卡", "Gold"), (500, "银卡", "Silver"))
BASE_TIER = ("普通会员", "Member")

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉"
    "斌宇浩凯丹玲雪梅琳晨欣怡婷雯博文瑞佳思雨轩涵子"
)
EN_FIRST = (
    "Emma",
    "Oliver",
    "Sophia",
    "Liam",
    "Ava",
    "Noah",
    "Mia",
    "Lucas",
    "Grace",
    "Ethan",
    "Chloe",
    "Daniel",
    "Lily",
    "Jack",
    "Hannah",
    "Ryan",
    "Zoe",
    "Kevin",
)
EN_LAST = (
    "Wang",
    "Li",
    "Zhang",
    "Smith",
    "Brown",
    "Lee",
    "Wong",
    "Chan",
    "Taylor",
    "Martin",
    "Lin",
    "Ho",
    "Nguyen",
    "Kim",
    "Park",
    "Miller",
    "Garcia",
    "Liu",
)

CITIES = (
    ("上海市浦东新区", "Shanghai, Pudong New Area"),
    ("上海市徐汇区", "Shanghai, Xuhui District"),
    ("北京市海淀区", "Beijing, Haidian District"),
    ("北京市朝阳区", "Beijing, Chaoyang District"),
    ("广东省广州市天河区", "Guangzhou, Tianhe District"),
    ("广东省深圳市南山区", "Shenzhen, Nanshan District"),
    ("浙江省杭州市西湖区", "Hangzhou, Xihu District"),
    ("江苏省南京市鼓楼区", "Nanjing, Gulou District"),
    ("江苏省苏州市工业园区", "Suzhou, Industrial Park"),
    ("四川省成都市武侯区", "Chengdu, Wuhou District"),
    ("湖北省武汉市洪山区", "Wuhan, Hongshan District"),
    ("陕西省西安市雁塔区", "Xi'an, Yanta District"),
    ("天津市南开区", "Tianjin, Nankai District"),
    ("重庆市渝北区", "Chongqing, Yubei District"),
    ("福建省厦门市思明区", "Xiamen, Siming District"),
    ("山东省青岛市市南区", "Qingdao, Shinan District"),
)
HUBS = (
    "上海",
    "北京",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "成都",
    "武汉",
    "西安",
    "郑州",
    "长沙",
)
HUBS_EN = {
    "上海": "Shanghai",
    "北京": "Beijing",
    "广州": "Guangzhou",
    "深圳": "Shenzhen",
    "杭州": "Hangzhou",
    "南京": "Nanjing",
    "成都": "Chengdu",
    "武汉": "Wuhan",
    "西安": "Xi'an",
    "郑州": "Zhengzhou",
    "长沙": "Changsha",
}
STREETS = (
    ("科技路", "Keji Road"),
    ("人民路", "Renmin Road"),
    ("中山路", "Zhongshan Road"),
    ("解放路", "Jiefang Road"),
    ("建设路", "Jianshe Road"),
    ("文化路", "Wenhua Road"),
    ("长江路", "Changjiang Road"),
    ("和平路", "Heping Road"),
)

# (prefix of sku, name, name_en, price, warranty months)
CATALOG: tuple[tuple[str, str, str, str, int], ...] = (
    ("EAR", "蓝牙耳机", "Bluetooth earphones", "299.00", 12),
    ("EAR", "降噪耳机", "Noise-cancelling headphones", "899.00", 12),
    ("PWB", "充电宝", "Power bank", "129.00", 12),
    ("CBL", "快充数据线", "Fast-charging cable", "39.90", 6),
    ("KBD", "机械键盘", "Mechanical keyboard", "459.00", 12),
    ("MSE", "无线鼠标", "Wireless mouse", "99.00", 12),
    ("WCH", "智能手表", "Smart watch", "1299.00", 24),
    ("SPK", "蓝牙音箱", "Bluetooth speaker", "249.00", 12),
    ("KET", "电热水壶", "Electric kettle", "189.00", 12),
    ("RCK", "电饭煲", "Rice cooker", "399.00", 24),
    ("AFR", "空气炸锅", "Air fryer", "459.00", 12),
    ("MUG", "保温杯", "Thermal mug", "129.00", 12),
    ("LMP", "台灯", "Desk lamp", "149.00", 12),
    ("PIL", "记忆枕", "Memory foam pillow", "169.00", 6),
    ("TWL", "纯棉毛巾", "Cotton towel", "29.90", 0),
    ("TSH", "纯棉T恤", "Cotton T-shirt", "79.00", 0),
    ("HOD", "连帽卫衣", "Hoodie", "199.00", 0),
    ("JNS", "牛仔裤", "Jeans", "259.00", 0),
    ("SHO", "跑步鞋", "Running shoes", "499.00", 6),
    ("BAG", "双肩包", "Backpack", "359.00", 12),
    ("SCK", "运动袜(3双)", "Sports socks (3 pairs)", "39.00", 0),
    ("YGM", "瑜伽垫", "Yoga mat", "119.00", 6),
    ("SKN", "保湿面霜", "Moisturising cream", "189.00", 0),
    ("TEA", "龙井茶礼盒", "Longjing tea gift box", "268.00", 0),
)
CARRIERS: tuple[tuple[str, str, str, int], ...] = (
    ("顺丰速运", "SF Express", "SF", 12),
    ("中通快递", "ZTO Express", "ZT", 12),
    ("京东物流", "JD Logistics", "JD", 12),
    ("圆通速递", "YTO Express", "YT", 10),
    ("韵达快递", "Yunda Express", "YD", 13),
    ("申通快递", "STO Express", "ST", 12),
    ("中国邮政EMS", "China Post EMS", "EMS", 11),
)
COUPON_TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    ("满100减10元", "¥10 off orders over ¥100", "10.00", "100.00"),
    ("满300减30元", "¥30 off orders over ¥300", "30.00", "300.00"),
    ("满500减60元", "¥60 off orders over ¥500", "60.00", "500.00"),
    ("无门槛5元券", "¥5 off, no minimum spend", "5.00", "0.00"),
    ("会员日满200减25元", "Member day: ¥25 off orders over ¥200", "25.00", "200.00"),
)
CASE_TEXTS: dict[str, str] = {
    "wrong_item": "收到的商品和订单不一致",
    "missing_item": "包裹里少了一件商品",
    "damaged": "商品到货时外包装破损，商品有划痕",
    "not_received": "显示已签收但本人没有收到",
    "other": "发票抬头需要修改",
}
PAYMENT_WEIGHTS = (("wechat_pay", 50), ("alipay", 30), ("card", 12), ("cod", 8))
# status weights by order age in days: (max age, ((status, weight), ...))
STATUS_BY_AGE: tuple[tuple[float, tuple[tuple[str, int], ...]], ...] = (
    (0.5, (("pending_payment", 20), ("paid", 60), ("cancelled", 10), ("shipped", 10))),
    (
        2,
        (
            ("pending_payment", 2),
            ("paid", 25),
            ("shipped", 60),
            ("cancelled", 8),
            ("delivered", 5),
        ),
    ),
    (5, (("paid", 3), ("shipped", 45), ("delivered", 47), ("cancelled", 5))),
    (12, (("shipped", 8), ("delivered", 85), ("cancelled", 7))),
    (1e9, (("shipped", 2), ("delivered", 84), ("cancelled", 7), ("returned", 7))),
)


def tier_for(points: int) -> tuple[str, str]:
    """Membership tier (zh, en) of a points balance."""
    for minimum, tier, tier_en in TIERS:
        if points >= minimum:
            return tier, tier_en
    return BASE_TIER


def _money(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


class _Rows:
    """Rows to bulk-insert, per table."""

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.shipments: list[dict[str, Any]] = []  # each with "events": [...]
        self.returns: list[dict[str, Any]] = []
        self.loyalty: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.coupons: list[dict[str, Any]] = []
        self.cases: list[dict[str, Any]] = []


# --- fixture -------------------------------------------------------------------------------


def _fixture_rows(rows: _Rows, now: datetime) -> None:
    """Adds every fact of the demo fixture."""
    today = shop_today(now)

    def at(days: float) -> datetime:
        return now + timedelta(days=days)

    addresses = {c["id"]: c for c in FIXTURE_CUSTOMERS}
    for c in FIXTURE_CUSTOMERS:
        rows.customers.append(
            {
                "id": c["id"],
                "name": c["name"],
                "phone": c["phone"],
                "language": c["language"],
                "wechat_openid": c["wechat_openid"],
                "created_at": at(-400),
            }
        )
        rows.loyalty.append(
            {
                "customer_id": c["id"],
                "tier": c["tier"],
                "tier_en": c["tier_en"],
                "points": c["points"],
            }
        )
        for delta, reason, day, expires in c["ledger"]:
            rows.ledger.append(
                {
                    "customer_id": c["id"],
                    "delta": delta,
                    "reason": reason,
                    "at": at(day),
                    "expires_on": today + timedelta(days=expires) if expires is not None else None,
                }
            )
    for o in FIXTURE_ORDERS:
        owner = addresses[o["customer"]]
        created = at(o["created_day"])
        ship = o["shipment"]
        shipped_at = at(ship["shipped_day"]) if ship else None
        delivered_at = (
            at(ship["delivered_day"]) if ship and ship["delivered_day"] is not None else None
        )
        total = sum((_money(price) * qty for _, _, _, qty, price in o["items"]), Decimal(0))
        rows.orders.append(
            {
                "id": o["id"],
                "customer_id": o["customer"],
                "status": o["status"],
                "payment_method": o["payment_method"],
                "total": total.quantize(CENT),
                "created_at": created,
                "paid_at": created + timedelta(minutes=2),
                "shipped_at": shipped_at,
                "delivered_at": delivered_at,
                "cancelled_at": None,
                "cancel_reason": None,
                "recipient_name": owner["name"],
                "recipient_phone": owner["phone"],
                "address": owner["address"],
                "delivery_time_pref": o["delivery_time_pref"],
            }
        )
        for sku, name, name_en, qty, price in o["items"]:
            rows.items.append(
                {
                    "order_id": o["id"],
                    "sku": sku,
                    "name": name,
                    "name_en": name_en,
                    "qty": qty,
                    "price": _money(price),
                    "warranty_months": 12,
                }
            )
        if ship:
            rows.shipments.append(
                {
                    "order_id": o["id"],
                    "carrier": ship["carrier"],
                    "carrier_en": ship["carrier_en"],
                    "tracking_no": ship["tracking_no"],
                    "shipped_at": shipped_at,
                    "expected_delivery": today + timedelta(days=ship["expected_delivery_day"]),
                    "delivered_at": delivered_at,
                    "events": [
                        {"at": at(day), "text": text, "text_en": text_en}
                        for day, text, text_en in ship["events"]
                    ],
                }
            )
        ret = o.get("return")
        if ret:
            rows.returns.append(
                {
                    "id": ret["id"],
                    "order_id": o["id"],
                    "sku": ret["sku"],
                    "kind": ret["kind"],
                    "reason": ret["reason"],
                    "status": ret["status"],
                    "refund_amount": _money(ret["refund_amount"]),
                    "refund_method": o["payment_method"],
                    "created_at": at(ret["created_day"]),
                    "refunded_at": at(ret["refund_day"]),
                }
            )
    for customer_id, coupons in FIXTURE_COUPONS.items():
        for code, title, title_en, amount, min_spend, expires, used in coupons:
            rows.coupons.append(
                {
                    "customer_id": customer_id,
                    "code": code,
                    "title": title,
                    "title_en": title_en,
                    "amount_off": _money(amount),
                    "min_spend": _money(min_spend),
                    "expires_on": today + timedelta(days=expires),
                    "used_at": at(used) if used is not None else None,
                }
            )


# --- generated extras ----------------------------------------------------------------------


class _Generator:
    """Deterministic generated customers and their order histories."""

    def __init__(self, rows: _Rows, now: datetime, extra_customers: int) -> None:
        self.rows = rows
        self.now = now
        self.today = shop_today(now)
        self.n = extra_customers
        self.rng = random.Random(SEED)
        self.phones = {c["phone"] for c in FIXTURE_CUSTOMERS}
        self.openids = {c["wechat_openid"] for c in FIXTURE_CUSTOMERS if c["wechat_openid"]}
        self.tracking = {o["shipment"]["tracking_no"] for o in FIXTURE_ORDERS if o["shipment"]}
        self.order_ids = {o["id"] for o in FIXTURE_ORDERS}
        self.return_ids = {o["return"]["id"] for o in FIXTURE_ORDERS if o.get("return")}
        self.coupon_no = 0

    def _unique(self, taken: set[str], make: Any) -> str:
        while True:
            value = make()
            if value not in taken:
                taken.add(value)
                return value

    def _phone(self, international: bool) -> str:
        rng = self.rng
        if international:
            return self._unique(
                self.phones,
                lambda: f"+1{rng.randint(201, 989)}{rng.randrange(10**7):07d}",
            )
        return self._unique(
            self.phones, lambda: f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        )

    def _address(self, english: bool) -> str:
        rng = self.rng
        city, city_en = rng.choice(CITIES)
        street, street_en = rng.choice(STREETS)
        number, building, room = (
            rng.randint(1, 999),
            rng.randint(1, 30),
            rng.randint(101, 2808),
        )
        if english:
            return f"{city_en}, {number} {street_en}, Building {building}, Room {room}"
        return f"{city}{street}{number}号{building}栋{room}室"

    def customers(self) -> list[dict[str, Any]]:
        """Generated customers, each with a name, unique phone and (often) a WeChat openid."""
        rng = self.rng
        people = []
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
        for i in range(self.n):
            english = rng.random() < 0.1
            if english:
                name = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
            else:
                name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
            phone = self._phone(international=english and rng.random() < 0.5)
            openid = None
            if rng.random() < 0.7:
                openid = self._unique(
                    self.openids, lambda: "o" + "".join(rng.choices(alphabet, k=27))
                )
            row = {
                "id": f"C{2001 + i}",
                "name": name,
                "phone": phone,
                "language": "en" if english else "zh",
                "wechat_openid": openid,
                "created_at": self.now - timedelta(days=rng.uniform(120, 1000)),
            }
            self.rows.customers.append(row)
            people.append({**row, "address": self._address(english)})
        return people

    def _status(self, age_days: float) -> str:
        for max_age, weights in STATUS_BY_AGE:
            if age_days < max_age:
                names, w = zip(*weights, strict=True)
                return self.rng.choices(names, weights=w)[0]
        raise AssertionError("unreachable")  # pragma: no cover

    def orders(self, people: Sequence[dict[str, Any]]) -> None:
        """About ten orders per customer over the last 120 days, in every status."""
        rng, now = self.rng, self.now
        drafts: list[dict[str, Any]] = []
        methods, method_weights = zip(*PAYMENT_WEIGHTS, strict=True)
        for person in people:
            for _ in range(rng.randint(2, 18)):
                age = rng.uniform(0.01, 120)
                created = now - timedelta(days=age)
                products = rng.sample(CATALOG, k=rng.choices((1, 2, 3), weights=(70, 22, 8))[0])
                items = [
                    (
                        f"{p[0]}-{CATALOG.index(p) + 100:03d}",
                        p[1],
                        p[2],
                        rng.choices((1, 2, 3), weights=(85, 12, 3))[0],
                        _money(p[3]),
                        p[4],
                    )
                    for p in products
                ]
                drafts.append(
                    {
                        "person": person,
                        "created": created,
                        "age": age,
                        "items": items,
                        "status": self._status(age),
                        "payment_method": rng.choices(methods, weights=method_weights)[0],
                    }
                )
        drafts.sort(key=lambda d: d["created"])
        sequence: dict[date, int] = defaultdict(int)
        for draft in drafts:
            day = shop_date(draft["created"])
            while True:
                sequence[day] += 1
                if sequence[day] > 9999:
                    raise ValueError(f"more than 9999 orders on {day}")
                order_id = f"DD{day:%Y%m%d}{sequence[day]:04d}"
                if order_id not in self.order_ids:
                    self.order_ids.add(order_id)
                    break
            self._order(order_id, draft)

    def _order(self, order_id: str, d: dict[str, Any]) -> None:
        """Builds one order with its timeline, shipment, events, return and points."""
        rng, now = self.rng, self.now
        person, created, status, method = (
            d["person"],
            d["created"],
            d["status"],
            d["payment_method"],
        )
        if method == "cod" and status == "pending_payment":
            status = "paid"  # cash on delivery: confirmed without online payment
        paid_at = (
            None if status == "pending_payment" else created + timedelta(minutes=rng.uniform(1, 30))
        )
        shipped_at = delivered_at = cancelled_at = None
        cancel_reason = None
        if status == "cancelled":
            cancelled_at = created + timedelta(hours=rng.uniform(0.1, min(48.0, d["age"] * 24)))
            if rng.random() < 0.3:
                paid_at, cancel_reason = None, "payment_timeout"
            else:
                cancel_reason = rng.choice(("customer_request", "customer_request", "out_of_stock"))
        stuck = False
        if status in ("shipped", "delivered", "returned"):
            assert paid_at is not None
            shipped_at = paid_at + timedelta(hours=rng.uniform(2, 36))
            if shipped_at >= now:
                status, shipped_at = "paid", None
        if shipped_at is not None:
            delivered_guess = shipped_at + timedelta(
                days=rng.choice((1, 2, 2, 3, 3, 4)), hours=rng.uniform(0, 10)
            )
            if status in ("delivered", "returned"):
                if delivered_guess >= now:
                    status = "shipped"
                else:
                    delivered_at = delivered_guess
            stuck = status == "shipped" and d["age"] > 8
        if method == "cod" and status in ("paid", "shipped", "cancelled"):
            paid_at = None
        elif method == "cod" and delivered_at is not None:
            paid_at = delivered_at
        total = sum((price * qty for _, _, _, qty, price, _ in d["items"]), Decimal(0)).quantize(
            CENT
        )
        self.rows.orders.append(
            {
                "id": order_id,
                "customer_id": person["id"],
                "status": status,
                "payment_method": method,
                "total": total,
                "created_at": created,
                "paid_at": paid_at,
                "shipped_at": shipped_at,
                "delivered_at": delivered_at,
                "cancelled_at": cancelled_at,
                "cancel_reason": cancel_reason,
                "recipient_name": person["name"],
                "recipient_phone": person["phone"],
                "address": person["address"],
                "delivery_time_pref": rng.choices(
                    ("anytime", "weekday", "weekend"), weights=(70, 20, 10)
                )[0],
            }
        )
        for sku, name, name_en, qty, price, warranty in d["items"]:
            self.rows.items.append(
                {
                    "order_id": order_id,
                    "sku": sku,
                    "name": name,
                    "name_en": name_en,
                    "qty": qty,
                    "price": price,
                    "warranty_months": warranty,
                }
            )
        if shipped_at is not None:
            self._shipment(order_id, shipped_at, delivered_at, stuck)
        if delivered_at is not None:
            self._after_delivery(
                order_id, person["id"], status, method, d["items"], delivered_at, total
            )

    def _shipment(
        self,
        order_id: str,
        shipped_at: datetime,
        delivered_at: datetime | None,
        stuck: bool,
    ) -> None:
        rng, now = self.rng, self.now
        carrier, carrier_en, prefix, digits = rng.choice(CARRIERS)
        tracking_no = self._unique(
            self.tracking, lambda: f"{prefix}{rng.randrange(10**digits):0{digits}d}"
        )
        origin, dest = rng.sample(HUBS, 2)
        transit = (delivered_at or shipped_at + timedelta(days=3)) - shipped_at
        plan = [
            (shipped_at, "商家已发货", "Shipped by the seller"),
            (
                shipped_at + transit * 0.25,
                f"快件已到达【{origin}转运中心】",
                f"Arrived at {HUBS_EN[origin]} transfer centre",
            ),
            (
                shipped_at + transit * 0.6,
                f"快件已到达【{dest}转运中心】",
                f"Arrived at {HUBS_EN[dest]} transfer centre",
            ),
            (shipped_at + transit * 0.9, "快递员正在派送", "Out for delivery"),
        ]
        if delivered_at is not None:
            plan.append((delivered_at, "已签收", "Delivered and signed for"))
        if stuck:
            plan = plan[:2]
        events = [{"at": t, "text": x, "text_en": y} for t, x, y in plan if t <= now]
        self.rows.shipments.append(
            {
                "order_id": order_id,
                "carrier": carrier,
                "carrier_en": carrier_en,
                "tracking_no": tracking_no,
                "shipped_at": shipped_at,
                "expected_delivery": shop_date(shipped_at) + timedelta(days=3),
                "delivered_at": delivered_at,
                "events": events,
            }
        )

    def _after_delivery(
        self,
        order_id: str,
        customer_id: str,
        status: str,
        method: str,
        items: Sequence[tuple[Any, ...]],
        delivered_at: datetime,
        total: Decimal,
    ) -> None:
        """Points for the purchase; returns for returned orders and for some delivered ones."""
        rng, now = self.rng, self.now
        self.rows.ledger.append(
            {
                "customer_id": customer_id,
                "delta": int(total),
                "reason": "purchase",
                "at": delivered_at,
                "expires_on": shop_date(delivered_at) + timedelta(days=365),
            }
        )
        reasons, reason_weights = (
            ("no_reason", "quality", "damaged", "wrong_item"),
            (50, 25, 15, 10),
        )
        if status == "returned":
            created = min(
                delivered_at + timedelta(days=rng.uniform(0.3, 6.5)),
                now - timedelta(hours=2),
            )
            refunded = min(created + timedelta(days=rng.uniform(2, 6)), now - timedelta(hours=1))
            for sku, _, _, qty, price, _ in items:
                self.rows.returns.append(
                    {
                        "order_id": order_id,
                        "sku": sku,
                        "kind": rng.choice(("return", "return", "refund")),
                        "reason": rng.choices(reasons, weights=reason_weights)[0],
                        "status": "refunded",
                        "refund_amount": (price * qty).quantize(CENT),
                        "refund_method": method,
                        "created_at": created,
                        "refunded_at": refunded,
                    }
                )
            self.rows.ledger.append(
                {
                    "customer_id": customer_id,
                    "delta": -int(total),
                    "reason": "return_reversal",
                    "at": refunded,
                    "expires_on": None,
                }
            )
            return
        days_since = (now - delivered_at).total_seconds() / 86400
        if rng.random() < 0.07:
            sku, _, _, qty, price, warranty = rng.choice(list(items))
            kind = rng.choices(
                ("return", "exchange", "refund", "repair"), weights=(45, 30, 15, 10)
            )[0]
            if kind == "repair" and warranty == 0:
                kind = "exchange"
            created = delivered_at + timedelta(
                days=rng.uniform(0.1, max(0.2, min(7.0, days_since - 0.1)))
            )
            if created >= now:
                created = max(delivered_at, now - timedelta(minutes=5))
            state = rng.choices(
                ("requested", "approved", "received", "rejected"),
                weights=(35, 30, 20, 15),
            )[0]
            refunded_at = None
            if now - created > timedelta(days=14) and state != "rejected":
                # settled long ago: money back for returns and refunds, goods received otherwise
                state = "received"
                if kind in ("return", "refund"):
                    state = "refunded"
                    refunded_at = created + timedelta(days=rng.uniform(3, 8))
            self.rows.returns.append(
                {
                    "order_id": order_id,
                    "sku": sku,
                    "kind": kind,
                    "reason": rng.choices(reasons, weights=reason_weights)[0],
                    "status": state,
                    "refund_amount": (price * qty).quantize(CENT)
                    if kind in ("return", "refund")
                    else None,
                    "refund_method": method,
                    "created_at": created,
                    "refunded_at": refunded_at,
                }
            )
        if rng.random() < 0.01:
            kind = rng.choice(tuple(CASE_TEXTS))
            self.rows.cases.append(
                {
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "kind": kind,
                    "description": CASE_TEXTS[kind],
                    "created_at": delivered_at + timedelta(hours=rng.uniform(2, 48)),
                    "status": "resolved" if rng.random() < 0.7 else "open",
                }
            )

    def loyalty(self, people: Sequence[dict[str, Any]]) -> None:
        """Opening balances, redemptions, accounts and coupons of generated customers."""
        rng, now, today = self.rng, self.now, self.today
        balance: dict[str, int] = defaultdict(int)
        for row in self.rows.ledger:
            balance[row["customer_id"]] += row["delta"]
        for person in people:
            cid = person["id"]
            if rng.random() < 0.6:
                opening = rng.randint(50, 4000)
                self.rows.ledger.append(
                    {
                        "customer_id": cid,
                        "delta": opening,
                        "reason": "opening_balance",
                        "at": now - timedelta(days=rng.uniform(150, 360)),
                        "expires_on": today + timedelta(days=rng.randint(3, 200)),
                    }
                )
                balance[cid] += opening
            if balance[cid] > 300 and rng.random() < 0.25:
                spent = rng.randint(100, min(balance[cid], 1500))
                self.rows.ledger.append(
                    {
                        "customer_id": cid,
                        "delta": -spent,
                        "reason": "redeem",
                        "at": now - timedelta(days=rng.uniform(1, 100)),
                        "expires_on": None,
                    }
                )
                balance[cid] -= spent
            points = max(0, balance[cid])
            tier, tier_en = tier_for(points)
            self.rows.loyalty.append(
                {"customer_id": cid, "tier": tier, "tier_en": tier_en, "points": points}
            )
            for _ in range(rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]):
                title, title_en, amount, min_spend = rng.choice(COUPON_TEMPLATES)
                self.coupon_no += 1
                used = rng.random() < 0.25
                self.rows.coupons.append(
                    {
                        "customer_id": cid,
                        "code": f"CP{self.coupon_no:06d}",
                        "title": title,
                        "title_en": title_en,
                        "amount_off": _money(amount),
                        "min_spend": _money(min_spend),
                        "expires_on": today + timedelta(days=rng.randint(-20, 90)),
                        "used_at": now - timedelta(days=rng.uniform(1, 30)) if used else None,
                    }
                )


def _assign_daily_ids(rows: list[dict[str, Any]], prefix: str, taken: set[str]) -> None:
    """Gives rows without an id ``prefix`` + shop date of ``created_at`` + 3-digit sequence."""
    sequence: dict[date, int] = defaultdict(int)
    for row in sorted((r for r in rows if "id" not in r), key=lambda r: r["created_at"]):
        day = shop_date(row["created_at"])
        while True:
            sequence[day] += 1
            candidate = f"{prefix}{day:%Y%m%d}{sequence[day]:03d}"
            if candidate not in taken:
                taken.add(candidate)
                row["id"] = candidate
                break


# --- writing -------------------------------------------------------------------------------


def _bulk(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Executemany insert of plain dicts."""
    batch = list(rows)
    if batch:
        session.execute(insert(model), batch)


def _write(engine: Engine, rows: _Rows) -> None:
    """Writes every row in one transaction."""
    with session_scope(engine) as s:
        _bulk(s, CustomerRow, rows.customers)
        _bulk(s, OrderRow, rows.orders)
        _bulk(s, OrderItemRow, rows.items)
        _bulk(
            s,
            ShipmentRow,
            ({k: v for k, v in r.items() if k != "events"} for r in rows.shipments),
        )
        shipment_ids = dict(s.execute(select(ShipmentRow.order_id, ShipmentRow.id)).all())
        _bulk(
            s,
            TrackingEventRow,
            (
                {"shipment_id": shipment_ids[r["order_id"]], **event}
                for r in rows.shipments
                for event in r["events"]
            ),
        )
        _bulk(s, ReturnRow, rows.returns)
        _bulk(s, LoyaltyAccountRow, rows.loyalty)
        _bulk(s, PointsLedgerRow, rows.ledger)
        _bulk(s, CouponRow, rows.coupons)
        _bulk(s, AfterSalesCaseRow, rows.cases)


def counts(engine: Engine) -> dict[str, int]:
    """Row count of every shop table."""
    with session_scope(engine) as s:
        return {
            table.name: int(s.execute(select(func.count()).select_from(table)).scalar() or 0)
            for table in metadata.sorted_tables
        }


def is_seeded(engine: Engine) -> bool:
    """Whether the schema exists and holds the demo fixture (customer C1001)."""
    if not inspect(engine).has_table(CustomerRow.__tablename__):
        return False
    with session_scope(engine) as s:
        return s.get(CustomerRow, FIXTURE_CUSTOMER_ID) is not None


def seed(engine: Engine, now: datetime | None = None, extra_customers: int = 400) -> dict[str, int]:
    """Creates the schema and writes the fixture plus generated extras; returns row counts.

    Expects empty tables (use :func:`reset` first to reseed).
    """
    now = now or utcnow()
    create_schema(engine)
    rows = _Rows()
    _fixture_rows(rows, now)
    if extra_customers > 0:
        generator = _Generator(rows, now, extra_customers)
        people = generator.customers()
        generator.orders(people)
        generator.loyalty(people)
        _assign_daily_ids(rows.returns, "RT", set(generator.return_ids))
    _assign_daily_ids(rows.cases, "AS", set())
    _write(engine, rows)
    return counts(engine)


def reset(engine: Engine) -> None:
    """Drops and recreates every shop table."""
    drop_schema(engine)
    create_schema(engine)


def seed_if_missing(
    engine: Engine, now: datetime | None = None, extra_customers: int = 400
) -> dict[str, int] | None:
    """Seeds only when the fixture is absent; returns the counts, or None when skipped."""
    if is_seeded(engine):
        return None
    return seed(engine, now=now, extra_customers=extra_customers)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m actions.shop.seed", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--if-missing", action="store_true", help="seed only if not seeded yet")
    mode.add_argument("--force", action="store_true", help="drop all shop tables and reseed")
    parser.add_argument("--url", help="database URL (default: $DATABASE_URL or var/shop.db)")
    parser.add_argument(
        "--extra-customers",
        type=int,
        default=400,
        metavar="N",
        help="generated customers besides the demo ones (default 400)",
    )
    args = parser.parse_args(argv)
    url = args.url or database_url()
    engine = build_engine(url)
    try:
        if args.force:
            drop_schema(engine)
        elif is_seeded(engine):
            if args.if_missing:
                print("shop database already seeded; nothing to do")
                return 0
            print("shop database already seeded; use --force to reseed", file=sys.stderr)
            return 1
        started = time.perf_counter()
        result = seed(engine, extra_customers=args.extra_customers)
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{name} {count}" for name, count in result.items())
        print(
            f"seeded {engine.url.render_as_string(hide_password=True)} in {elapsed:.1f}s: {summary}"
        )
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
