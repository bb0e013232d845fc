"""Shop rules as pure functions: no database, no hidden clock where time matters.

Calendar days (return windows, expected delivery, point expiry) are counted in the shop's
time zone, ``SHOP_TIMEZONE`` (default ``Asia/Shanghai``); stored instants are UTC.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from actions.shop.dto import Order, OrderItem, Shipment

NO_REASON_DAYS = 7
QUALITY_DAYS = 15
QUALITY_REASONS = frozenset({"quality", "damaged", "wrong_item"})
RETURN_REASONS = frozenset({"no_reason"}) | QUALITY_REASONS
STALE_AFTER = timedelta(days=3)
DELIVERY_DATE_HORIZON_DAYS = 14
DELIVERY_TIME_CHOICES = ("weekday", "weekend", "anytime")
CANCELLABLE = frozenset({"pending_payment", "paid"})

_DELIVERY_SYNONYMS = {
    "工作日": "weekday",
    "周末": "weekend",
    "双休日": "weekend",
    "任意时间": "anytime",
    "任何时间": "anytime",
    "随时": "anytime",
    "都可以": "anytime",
}
_REFUND_DAYS = {
    "wechat_pay": (1, 3),
    "alipay": (1, 3),
    "card": (3, 7),
    "cod": (3, 7),  # cash on delivery is refunded by bank transfer
}
# The UTC singleton, spelled so it works on Python 3.10 (datetime.UTC is 3.11+).
UTC = timezone(timedelta(0))
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
_INTERNATIONAL = re.compile(r"\+[1-9]\d{6,14}")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class NotAllowed(Exception):
    """A request the rules refuse; ``code`` is machine-readable (``already_shipped``,
    ``already_cancelled``, ``window_closed``, ``not_delivered``, ``invalid_value``,
    ``warranty_expired``, ``already_requested``, ``not_found``, ...)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


@dataclass(frozen=True)
class ReturnDecision:
    """What may happen to a return request.

    ``allowed``: a return, exchange or refund may be opened now (``route == "return"``).
    ``route``: ``return``; ``warranty`` (window closed, repair under warranty still
    possible); ``handoff`` (a person must decide). ``deadline``: last day of the window
    that applies (return window, or warranty end for the warranty route).
    """

    allowed: bool
    route: str
    deadline: date | None
    code: str


@lru_cache(maxsize=1)
def shop_timezone() -> tzinfo:
    """The shop's time zone from ``SHOP_TIMEZONE`` (UTC when unknown)."""
    try:
        return ZoneInfo(os.environ.get("SHOP_TIMEZONE", "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """``moment`` as timezone-aware UTC (naive values count as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def shop_date(moment: datetime) -> date:
    """The shop's calendar day of ``moment`` (naive values count as UTC)."""
    return aware(moment).astimezone(shop_timezone()).date()


def shop_today(now: datetime) -> date:
    """Today in the shop's time zone."""
    return shop_date(now)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the end of shorter months."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def add_business_days(day: date, days: int) -> date:
    """``day`` plus ``days`` working days (Monday to Friday)."""
    current = day
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def cancel_refusal(order: Order) -> str | None:
    """Why ``order`` can no longer be cancelled or changed (a NotAllowed code), or None."""
    if order.status in CANCELLABLE:
        return None
    if order.status == "cancelled":
        return "already_cancelled"
    return "already_shipped"  # shipped, delivered or returned: it has left the warehouse


def can_cancel(order: Order) -> bool:
    """Only orders not yet shipped (pending payment or paid) may be cancelled."""
    return cancel_refusal(order) is None


def can_change(order: Order) -> bool:
    """Address, phone and delivery time may change only before shipment."""
    return cancel_refusal(order) is None


def validate_change(field: str, value: str, now: datetime | None = None) -> str:
    """Returns the normalised new value for ``field`` or raises NotAllowed("invalid_value").

    address: 8-120 characters, at least one CJK character or digit, not digits only.
    phone: an 11-digit mainland mobile (``+86`` accepted and dropped) or ``+`` and 7-15 digits.
    delivery_time: ``weekday``, ``weekend``, ``anytime`` or an ISO date within the next
    14 days (``now`` defaults to the current time).
    """
    if field not in ("address", "phone", "delivery_time"):
        raise NotAllowed("invalid_field", f"cannot change {field!r}")
    text = " ".join((value or "").split())
    if field == "address":
        compact = re.sub(r"[\s,，.。#\-]", "", text)
        if (
            8 <= len(text) <= 120
            and (_CJK.search(text) or any(c.isdigit() for c in text))
            and not compact.isdigit()
        ):
            return text
        raise NotAllowed("invalid_value", "address must be 8-120 characters with a place")
    if field == "phone":
        compact = re.sub(r"[\s\-()]", "", text)
        if compact.startswith("+86") and _MAINLAND_MOBILE.fullmatch(compact[3:]):
            return compact[3:]
        if _MAINLAND_MOBILE.fullmatch(compact) or _INTERNATIONAL.fullmatch(compact):
            return compact
        raise NotAllowed("invalid_value", "not a mobile phone number")
    choice = text.lower()
    choice = _DELIVERY_SYNONYMS.get(choice, choice)
    if choice in DELIVERY_TIME_CHOICES:
        return choice
    try:
        wanted = date.fromisoformat(choice)
    except ValueError:
        raise NotAllowed("invalid_value", "weekday, weekend, anytime or a date") from None
    today = shop_today(now or utcnow())
    if today < wanted <= today + timedelta(days=DELIVERY_DATE_HORIZON_DAYS):
        return wanted.isoformat()
    raise NotAllowed("invalid_value", "the date must be within the next 14 days")


def return_decision(
    order: Order, reason: str, now: datetime, sku: str | None = None
) -> ReturnDecision:
    """Decides a return request for ``order`` (for the line ``sku`` if given).

    Only delivered orders; any reason within 7 days of delivery; quality, damaged or
    wrong item within 15 days; later, a warranty repair while the item's warranty runs
    (route ``warranty``), otherwise a person decides (route ``handoff``).
    """
    if reason not in RETURN_REASONS:
        return ReturnDecision(False, "return", None, "invalid_value")
    if order.status == "returned":
        return ReturnDecision(False, "return", None, "already_returned")
    if order.status != "delivered" or order.delivered_at is None:
        return ReturnDecision(False, "return", None, "not_delivered")
    today = shop_today(now)
    delivered_on = shop_date(order.delivered_at)
    no_reason_end = delivered_on + timedelta(days=NO_REASON_DAYS)
    quality_end = delivered_on + timedelta(days=QUALITY_DAYS)
    if today <= no_reason_end:
        return ReturnDecision(True, "return", no_reason_end, "ok")
    if reason in QUALITY_REASONS and today <= quality_end:
        return ReturnDecision(True, "return", quality_end, "ok")
    items = [i for i in order.items if sku is None or i.sku == sku] or list(order.items)
    months = max((i.warranty_months for i in items), default=0)
    warranty_end = add_months(delivered_on, months) if months > 0 else None
    if warranty_end is not None and today <= warranty_end:
        return ReturnDecision(False, "warranty", warranty_end, "window_closed")
    return ReturnDecision(False, "handoff", None, "warranty_expired")


def item_under_warranty(order: Order, now: datetime) -> OrderItem | None:
    """The line whose warranty still runs (the longest one), or None: the item a warranty
    repair is offered for when the customer has not picked one."""
    if order.delivered_at is None or not order.items:
        return None
    longest = max(order.items, key=lambda item: item.warranty_months)
    if longest.warranty_months <= 0:
        return None
    end = add_months(shop_date(order.delivered_at), longest.warranty_months)
    return longest if shop_today(now) <= end else None


def logistics_exception(shipment: Shipment | None, now: datetime) -> str | None:
    """``overdue`` when the expected day has passed undelivered; ``stale`` when a parcel
    in transit has had no scan for 3 days; otherwise None."""
    if shipment is None or shipment.delivered_at is not None:
        return None
    now = aware(now)
    if shipment.expected_delivery is not None and shipment.expected_delivery < shop_today(now):
        return "overdue"
    last = shipment.events[0].at if shipment.events else shipment.shipped_at
    if last is not None and now - last >= STALE_AFTER:
        return "stale"
    return None


def refund_eta(refund_method: str | None, refunded_at: datetime | None = None) -> tuple[int, int]:
    """Business days (min, max) for a refund to reach the customer after it was issued:
    WeChat Pay / Alipay 1-3, card 3-7, cash on delivery 3-7 (bank transfer)."""
    return _REFUND_DAYS.get(refund_method or "", (3, 7))


def refund_arrival(refund_method: str | None, refunded_at: datetime) -> tuple[date, date]:
    """The earliest and latest shop calendar day the refund should arrive."""
    low, high = refund_eta(refund_method, refunded_at)
    issued = shop_date(refunded_at)
    return add_business_days(issued, low), add_business_days(issued, high)
