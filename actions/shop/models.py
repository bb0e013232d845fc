"""SQLAlchemy models of the shop database (SQLAlchemy 1.4, 2.0 style).

Money is ``NUMERIC(12, 2)`` read back as :class:`~decimal.Decimal`; datetimes are stored in
UTC and always read back timezone-aware. Enumerations are strings guarded by CHECK
constraints, so the schema is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")
# The UTC singleton, spelled so it works on Python 3.10 (datetime.UTC is 3.11+).
UTC = timezone(timedelta(0))

ORDER_STATUSES = (
    "pending_payment",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "returned",
)
PAYMENT_METHODS = ("wechat_pay", "alipay", "card", "cod")
RETURN_KINDS = ("return", "exchange", "refund", "repair")
RETURN_REASONS = ("no_reason", "quality", "wrong_item", "damaged")
RETURN_STATUSES = ("requested", "approved", "received", "refunded", "rejected")
CASE_KINDS = ("wrong_item", "missing_item", "damaged", "not_received", "other")
CHANGE_FIELDS = ("address", "phone", "delivery_time")


class UTCDateTime(TypeDecorator):
    """A datetime stored as UTC and returned timezone-aware (naive input counts as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator):
    """``NUMERIC(12, 2)`` returned as a 2-place Decimal on every backend.

    SQLite has no decimal type; there the driver value is a float, which is exact enough for
    12 significant digits and is quantized back to cents (and SQLAlchemy's warning avoided).
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine:
        if dialect.supports_native_decimal:
            return dialect.type_descriptor(Numeric(12, 2))
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=False))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(CENT)


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a portable ``column IN (...)`` check."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base: Any = declarative_base(metadata=metadata)


class CustomerRow(Base):
    """A shop customer; ``wechat_openid`` binds a WeChat identity to the account."""

    __tablename__ = "customers"
    id = Column(String(16), primary_key=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(20), nullable=False)
    language = Column(String(8), nullable=False, default="zh")
    wechat_openid = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_customers_wechat_openid", "wechat_openid", unique=True),
        Index("ix_customers_phone", "phone"),
    )


class OrderRow(Base):
    """An order, including the delivery address it ships to."""

    __tablename__ = "orders"
    id = Column(String(20), primary_key=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False)
    status = Column(String(20), nullable=False)
    payment_method = Column(String(16), nullable=False)
    total = Column(Money, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    paid_at = Column(UTCDateTime)
    shipped_at = Column(UTCDateTime)
    delivered_at = Column(UTCDateTime)
    cancelled_at = Column(UTCDateTime)
    cancel_reason = Column(String(200))
    recipient_name = Column(String(64), nullable=False, default="")
    recipient_phone = Column(String(20), nullable=False, default="")
    address = Column(String(200), nullable=False, default="")
    delivery_time_pref = Column(String(16), nullable=False, default="anytime")

    items = relationship("OrderItemRow", order_by="OrderItemRow.id", lazy="raise")
    shipments = relationship("ShipmentRow", order_by="ShipmentRow.id", lazy="raise")

    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        CheckConstraint(_in("payment_method", PAYMENT_METHODS), name="payment_method"),
        Index("ix_orders_customer_id_created_at", "customer_id", "created_at"),
    )


class OrderItemRow(Base):
    """One line of an order."""

    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    name = Column(String(100), nullable=False)
    name_en = Column(String(100), nullable=False)
    qty = Column(Integer, nullable=False)
    price = Column(Money, nullable=False)
    warranty_months = Column(Integer, nullable=False, default=12)


class ShipmentRow(Base):
    """A parcel of an order; ``delivered_at`` is empty while in transit."""

    __tablename__ = "shipments"
    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("orders.id"), nullable=False, index=True)
    carrier = Column(String(32), nullable=False)
    carrier_en = Column(String(32), nullable=False)
    tracking_no = Column(String(32), nullable=False, index=True)
    shipped_at = Column(UTCDateTime)
    expected_delivery = Column(Date)
    delivered_at = Column(UTCDateTime)

    events = relationship("TrackingEventRow", order_by="TrackingEventRow.at.desc()", lazy="raise")


class TrackingEventRow(Base):
    """A carrier scan of a shipment."""

    __tablename__ = "tracking_events"
    id = Column(Integer, primary_key=True, autoincrement=True)
    shipment_id = Column(Integer, ForeignKey("shipments.id"), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    text = Column(String(200), nullable=False)
    text_en = Column(String(200), nullable=False)

    __table_args__ = (Index("ix_tracking_events_shipment_id_at", "shipment_id", "at"),)


class ReturnRow(Base):
    """A return, exchange, refund or repair request for one order line."""

    __tablename__ = "returns"
    id = Column(String(20), primary_key=True)
    order_id = Column(String(20), ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    kind = Column(String(16), nullable=False)
    reason = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    refund_amount = Column(Money)
    refund_method = Column(String(16))
    created_at = Column(UTCDateTime, nullable=False)
    refunded_at = Column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("kind", RETURN_KINDS), name="kind"),
        CheckConstraint(_in("reason", RETURN_REASONS), name="reason"),
        CheckConstraint(_in("status", RETURN_STATUSES), name="status"),
    )


class LoyaltyAccountRow(Base):
    """Membership tier and current points balance of a customer."""

    __tablename__ = "loyalty_accounts"
    customer_id = Column(String(16), ForeignKey("customers.id"), primary_key=True)
    tier = Column(String(16), nullable=False)
    tier_en = Column(String(16), nullable=False)
    points = Column(Integer, nullable=False, default=0)


class PointsLedgerRow(Base):
    """A change of a points balance; positive rows may expire on ``expires_on``."""

    __tablename__ = "points_ledger"
    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False)
    delta = Column(Integer, nullable=False)
    reason = Column(String(64), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    expires_on = Column(Date)

    __table_args__ = (
        Index("ix_points_ledger_customer_id_expires_on", "customer_id", "expires_on"),
    )


class CouponRow(Base):
    """A coupon issued to a customer (``amount_off`` when spending at least ``min_spend``)."""

    __tablename__ = "coupons"
    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False, index=True)
    code = Column(String(32), nullable=False, unique=True)
    title = Column(String(100), nullable=False)
    title_en = Column(String(100), nullable=False)
    amount_off = Column(Money, nullable=False)
    min_spend = Column(Money, nullable=False)
    expires_on = Column(Date, nullable=False)
    used_at = Column(UTCDateTime)


class AfterSalesCaseRow(Base):
    """A problem report (wrong, missing or damaged item, parcel not received, ...)."""

    __tablename__ = "after_sales_cases"
    id = Column(String(20), primary_key=True)
    order_id = Column(String(20), ForeignKey("orders.id"), nullable=True, index=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=True, index=True)
    kind = Column(String(16), nullable=False)
    description = Column(Text, nullable=False, default="")
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (CheckConstraint(_in("kind", CASE_KINDS), name="kind"),)


class HandoffRequestRow(Base):
    """A request to hand a conversation to a human agent, as recorded by the bot."""

    __tablename__ = "handoff_requests"
    id = Column(String(24), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    customer_id = Column(String(16), nullable=True)
    order_id = Column(String(20), nullable=True)
    reason = Column(String(32), nullable=False)
    intent = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)


class OrderChangeRow(Base):
    """Audit row of a change to an order; values are stored masked."""

    __tablename__ = "order_changes"
    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("orders.id"), nullable=False, index=True)
    field = Column(String(16), nullable=False)
    old_value_masked = Column(String(200))
    new_value_masked = Column(String(200))
    at = Column(UTCDateTime, nullable=False)

    __table_args__ = (CheckConstraint(_in("field", CHANGE_FIELDS), name="field"),)


def create_schema(engine: Any) -> None:
    """Creates every missing table and index."""
    metadata.create_all(engine)


def drop_schema(engine: Any) -> None:
    """Drops every shop table."""
    metadata.drop_all(engine)
