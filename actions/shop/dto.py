"""Immutable values the repository returns (never ORM rows).

Money is :class:`~decimal.Decimal` with two places; datetimes are timezone-aware UTC;
``date`` fields are calendar days in the shop's time zone (see ``policy.shop_today``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Customer:
    """A shop customer."""

    id: str
    name: str
    phone: str
    language: str
    wechat_openid: str | None


@dataclass(frozen=True)
class OrderItem:
    """One order line."""

    sku: str
    name: str
    name_en: str
    qty: int
    price: Decimal
    warranty_months: int = 12


@dataclass(frozen=True)
class TrackingEvent:
    """One carrier scan."""

    at: datetime
    text: str
    text_en: str


@dataclass(frozen=True)
class Shipment:
    """A parcel; ``events`` are newest first, ``delivered_at`` is None while in transit."""

    carrier: str
    carrier_en: str
    tracking_no: str
    shipped_at: datetime | None
    expected_delivery: date | None
    delivered_at: datetime | None
    events: tuple[TrackingEvent, ...] = ()


@dataclass(frozen=True)
class Order:
    """An order with its lines, delivery address and (latest) shipment."""

    id: str
    customer_id: str
    status: str
    payment_method: str
    total: Decimal
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    recipient_name: str
    recipient_phone: str
    address: str
    delivery_time_pref: str
    items: tuple[OrderItem, ...] = ()
    shipment: Shipment | None = None

    def item(self, sku: str) -> OrderItem | None:
        """The line with ``sku``, if the order has one."""
        return next((i for i in self.items if i.sku == sku), None)


@dataclass(frozen=True)
class ReturnRequest:
    """A return / exchange / refund / repair request."""

    id: str
    order_id: str
    sku: str
    kind: str
    reason: str
    status: str
    refund_amount: Decimal | None
    refund_method: str | None
    created_at: datetime
    refunded_at: datetime | None


@dataclass(frozen=True)
class LoyaltyAccount:
    """Tier and points; ``expiring_points`` expire within 60 days, first on ``expiring_on``."""

    customer_id: str
    tier: str
    tier_en: str
    points: int
    expiring_points: int
    expiring_on: date | None


@dataclass(frozen=True)
class Coupon:
    """A coupon of a customer."""

    code: str
    title: str
    title_en: str
    amount_off: Decimal
    min_spend: Decimal
    expires_on: date
    used: bool


@dataclass(frozen=True)
class AfterSalesCase:
    """A problem report opened for an order."""

    id: str
    order_id: str | None
    customer_id: str | None
    kind: str
    description: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class HandoffRequest:
    """A recorded request for a human agent."""

    id: str
    conversation_id: str
    customer_id: str | None
    order_id: str | None
    reason: str
    intent: str | None
    created_at: datetime
