"""Async access to the shop database: the only API the actions use.

Each public method runs its synchronous SQLAlchemy work inside its own session, so no
session is shared between concurrent calls. On PostgreSQL the work (a few index-backed
statements) runs on the event loop: handing it to a worker thread and back cost more CPU
than the round trips it overlapped (docs/performance.md, change 38). SQLite's runs in a
worker thread (:func:`asyncio.to_thread`), as its writer lock may be waited for.
Results are frozen DTOs from ``dto``. Refusals raise
:class:`~actions.shop.policy.NotAllowed` with a machine-readable code.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from actions.shop import policy
from actions.shop.db import get_engine, reader_engine, run_in_session
from actions.shop.dto import (
    AfterSalesCase,
    Coupon,
    Customer,
    HandoffRequest,
    LoyaltyAccount,
    Order,
    OrderItem,
    ReturnRequest,
    Shipment,
    TrackingEvent,
)
from actions.shop.masking import mask_address, mask_phone
from actions.shop.models import (
    CASE_KINDS,
    CENT,
    RETURN_KINDS,
    AfterSalesCaseRow,
    CouponRow,
    CustomerRow,
    HandoffRequestRow,
    LoyaltyAccountRow,
    OrderChangeRow,
    OrderItemRow,
    OrderRow,
    PointsLedgerRow,
    ReturnRow,
    ShipmentRow,
    TrackingEventRow,
)
from actions.shop.policy import NotAllowed

T = TypeVar("T")

EXPIRING_WITHIN_DAYS = 60
OPEN_RETURN_STATUSES = ("requested", "approved", "received", "refunded")
_CHANGE_COLUMNS = {
    "address": "address",
    "phone": "recipient_phone",
    "delivery_time": "delivery_time_pref",
}
_ID_ATTEMPTS = 10


# --- row -> DTO ------------------------------------------------------------------------


def customer_dto(row: CustomerRow) -> Customer:
    """Customer DTO of a row."""
    return Customer(row.id, row.name, row.phone, row.language, row.wechat_openid)


# Rows are ORM objects or Core rows of the same table: both have the columns as attributes.


def shipment_dto(row: Any, events: Iterable[Any]) -> Shipment:
    """Shipment DTO of a shipment row and its tracking event rows (put newest first)."""
    events = sorted(events, key=lambda e: (e.at, e.id), reverse=True)
    return Shipment(
        carrier=row.carrier,
        carrier_en=row.carrier_en,
        tracking_no=row.tracking_no,
        shipped_at=row.shipped_at,
        expected_delivery=row.expected_delivery,
        delivered_at=row.delivered_at,
        events=tuple(TrackingEvent(e.at, e.text, e.text_en) for e in events),
    )


def order_dto(row: OrderRow) -> Order:
    """Order DTO of a row whose items and shipments (with events) are loaded."""
    latest = row.shipments[-1] if row.shipments else None
    return order_of(row, row.items, shipment_dto(latest, latest.events) if latest else None)


def order_of(row: Any, items: Sequence[Any], shipment: Shipment | None) -> Order:
    """Order DTO of an order row, its item rows in order and its latest shipment."""
    return Order(
        id=row.id,
        customer_id=row.customer_id,
        status=row.status,
        payment_method=row.payment_method,
        total=row.total,
        created_at=row.created_at,
        paid_at=row.paid_at,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        recipient_name=row.recipient_name,
        recipient_phone=row.recipient_phone,
        address=row.address,
        delivery_time_pref=row.delivery_time_pref,
        items=tuple(
            OrderItem(i.sku, i.name, i.name_en, i.qty, i.price, i.warranty_months)
            for i in items
        ),
        shipment=shipment,
    )


# The order reads of the hot path in Core SQL, built once: they run on every order question,
# and the ORM's eager loading (three `selectinload` queries with their option handling)
# was ~40% of an action server's CPU.
_ORDERS = OrderRow.__table__
_ITEMS = OrderItemRow.__table__
_SHIPMENTS = ShipmentRow.__table__
_EVENTS = TrackingEventRow.__table__
_ORDER = select(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"))
_CUSTOMER_ORDERS = (
    select(_ORDERS)
    .where(_ORDERS.c.customer_id == bindparam("customer_id"))
    .order_by(_ORDERS.c.created_at.desc(), _ORDERS.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_ITEMS_OF = (
    select(_ITEMS)
    .where(_ITEMS.c.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(_ITEMS.c.id)
)
_SHIPMENTS_OF = (
    select(_SHIPMENTS)
    .where(_SHIPMENTS.c.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(_SHIPMENTS.c.id)
)
_EVENTS_OF = select(_EVENTS).where(
    _EVENTS.c.shipment_id.in_(bindparam("shipment_ids", expanding=True))
)
_ORDER_OF_TRACKING_NO = (
    select(_SHIPMENTS.c.order_id)
    .where(_SHIPMENTS.c.tracking_no == bindparam("tracking_no"))
    .limit(1)
)


def _orders_of(connection: Connection, rows: Sequence[Any]) -> list[Order]:
    """Order DTOs of order rows, with their items and latest shipments (three queries)."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    items: dict[str, list[Any]] = {order_id: [] for order_id in ids}
    for item in connection.execute(_ITEMS_OF, {"order_ids": ids}):
        items[item.order_id].append(item)
    latest = {s.order_id: s for s in connection.execute(_SHIPMENTS_OF, {"order_ids": ids})}
    events: dict[int, list[Any]] = {s.id: [] for s in latest.values()}
    if events:
        for event in connection.execute(_EVENTS_OF, {"shipment_ids": list(events)}):
            events[event.shipment_id].append(event)
    return [
        order_of(
            row,
            items[row.id],
            shipment_dto(latest[row.id], events[latest[row.id].id]) if row.id in latest else None,
        )
        for row in rows
    ]


def _read_order(connection: Connection, order_id: str) -> Order | None:
    """The order with items and latest shipment (with its events), or None."""
    orders = _orders_of(connection, connection.execute(_ORDER, {"order_id": order_id}).all())
    return orders[0] if orders else None


def return_dto(row: ReturnRow) -> ReturnRequest:
    """ReturnRequest DTO of a row."""
    return ReturnRequest(
        id=row.id,
        order_id=row.order_id,
        sku=row.sku,
        kind=row.kind,
        reason=row.reason,
        status=row.status,
        refund_amount=row.refund_amount,
        refund_method=row.refund_method,
        created_at=row.created_at,
        refunded_at=row.refunded_at,
    )


def case_dto(row: AfterSalesCaseRow) -> AfterSalesCase:
    """AfterSalesCase DTO of a row."""
    return AfterSalesCase(
        row.id,
        row.order_id,
        row.customer_id,
        row.kind,
        row.description,
        row.status,
        row.created_at,
    )


def handoff_dto(row: HandoffRequestRow) -> HandoffRequest:
    """HandoffRequest DTO of a row."""
    return HandoffRequest(
        row.id,
        row.conversation_id,
        row.customer_id,
        row.order_id,
        row.reason,
        row.intent,
        row.created_at,
    )


def coupon_dto(row: CouponRow) -> Coupon:
    """Coupon DTO of a row."""
    return Coupon(
        row.code,
        row.title,
        row.title_en,
        row.amount_off,
        row.min_spend,
        row.expires_on,
        row.used_at is not None,
    )


# --- helpers -----------------------------------------------------------------------------


def _with_order_details(stmt: Select) -> Select:
    """Adds eager loading of items, shipments and tracking events."""
    return stmt.options(
        selectinload(OrderRow.items),
        selectinload(OrderRow.shipments).selectinload(ShipmentRow.events),
    )


def _lock_order(session: Session, order_id: str) -> OrderRow:
    """Loads an order with its details for update, or raises NotAllowed("not_found")."""
    stmt = _with_order_details(select(OrderRow).where(OrderRow.id == order_id)).with_for_update(
        of=OrderRow
    )
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotAllowed("not_found", f"no order {order_id}")
    return row


def _next_id(session: Session, column: Any, prefix: str, width: int) -> str:
    """Next id ``prefix`` + zero-padded daily sequence (``RT20261105`` -> ``RT20261105001``)."""
    last = session.execute(
        select(func.max(column)).where(
            column.like(f"{prefix}%"), func.length(column) == len(prefix) + width
        )
    ).scalar()
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:0{width}d}"


def _now(now: datetime | None) -> datetime:
    return policy.aware(now) if now is not None else policy.utcnow()


class ShopRepository:
    """Async repository over the shop database (one session per call)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine: Engine = engine or get_engine()
        self._reader = reader_engine(self.engine)
        self._in_thread = self.engine.dialect.name == "sqlite"

    async def _run(self, work: Callable[[Session], T]) -> T:
        """Runs ``work`` inside one committed session."""
        return await self._on(self.engine, work)

    async def _read(self, work: Callable[[Session], T]) -> T:
        """Runs read-only ``work`` (in autocommit on PostgreSQL)."""
        return await self._on(self._reader, work)

    async def _on(self, engine: Engine, work: Callable[[Session], T]) -> T:
        if self._in_thread:
            return await asyncio.to_thread(run_in_session, engine, work)
        return run_in_session(engine, work)

    async def _run_with_new_id(self, work: Callable[[Session], T]) -> T:
        """Like :meth:`_run`, retrying when a concurrently generated id collided."""
        for attempt in range(_ID_ATTEMPTS):
            try:
                return await self._run(work)
            except IntegrityError:
                if attempt == _ID_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- customers ---------------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer with ``customer_id``, or None."""

        def work(s: Session) -> Customer | None:
            row = s.get(CustomerRow, customer_id)
            return customer_dto(row) if row else None

        return await self._read(work)

    async def get_customer_by_openid(self, openid: str) -> Customer | None:
        """The customer bound to a WeChat ``openid``, or None."""

        def work(s: Session) -> Customer | None:
            row = s.execute(
                select(CustomerRow).where(CustomerRow.wechat_openid == openid)
            ).scalar_one_or_none()
            return customer_dto(row) if row else None

        if not openid:
            return None
        return await self._read(work)

    # --- orders ------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order | None:
        """The order with items, address and latest shipment, or None."""

        return await self._read(lambda s: _read_order(s.connection(), order_id))

    async def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        """The customer's most recent orders, newest first (never anyone else's)."""

        def work(s: Session) -> list[Order]:
            connection = s.connection()
            params = {"customer_id": customer_id, "limit": max(0, limit)}
            return _orders_of(connection, connection.execute(_CUSTOMER_ORDERS, params).all())

        if not customer_id:
            return []
        return await self._read(work)

    async def find_order_by_tracking_no(self, tracking_no: str) -> Order | None:
        """The order shipped under ``tracking_no``, or None."""

        def work(s: Session) -> Order | None:
            connection = s.connection()
            found = connection.execute(_ORDER_OF_TRACKING_NO, {"tracking_no": tracking_no})
            order_id = found.scalar()
            return None if order_id is None else _read_order(connection, order_id)

        return await self._read(work)

    async def cancel_order(self, order_id: str, reason: str, now: datetime | None = None) -> Order:
        """Cancels an order not yet shipped; raises NotAllowed (``already_shipped``,
        ``already_cancelled``, ``not_found``) otherwise."""
        at = _now(now)

        def work(s: Session) -> Order:
            row = _lock_order(s, order_id)
            code = policy.cancel_refusal(order_dto(row))
            if code:
                raise NotAllowed(code, f"order {order_id} is {row.status}")
            row.status = "cancelled"
            row.cancelled_at = at
            row.cancel_reason = (reason or "")[:200] or None
            s.flush()
            return order_dto(row)

        return await self._run(work)

    async def change_order(
        self, order_id: str, field: str, value: str, now: datetime | None = None
    ) -> Order:
        """Changes the address, phone or delivery time of an order not yet shipped.

        The value is validated and normalised by ``policy.validate_change``; an audit row
        with masked old and new values is written to ``order_changes``.
        """
        at = _now(now)
        if field not in _CHANGE_COLUMNS:
            raise NotAllowed("invalid_field", f"cannot change {field!r}")

        def work(s: Session) -> Order:
            row = _lock_order(s, order_id)
            code = policy.cancel_refusal(order_dto(row))
            if code:
                raise NotAllowed(code, f"order {order_id} is {row.status}")
            new_value = policy.validate_change(field, value, at)
            column = _CHANGE_COLUMNS[field]
            old_value = getattr(row, column)
            setattr(row, column, new_value)
            masker: Callable[[str], str] = {
                "address": mask_address,
                "phone": mask_phone,
            }.get(field, lambda v: v or "")
            s.add(
                OrderChangeRow(
                    order_id=order_id,
                    field=field,
                    old_value_masked=masker(old_value),
                    new_value_masked=masker(new_value),
                    at=at,
                )
            )
            s.flush()
            return order_dto(row)

        return await self._run(work)

    async def verify_phone_last4(self, order_id: str, last4: str) -> bool:
        """Whether ``last4`` are the last 4 digits of the ordering customer's phone
        (compared in constant time)."""

        def work(s: Session) -> str | None:
            return s.execute(
                select(CustomerRow.phone)
                .join(OrderRow, OrderRow.customer_id == CustomerRow.id)
                .where(OrderRow.id == order_id)
            ).scalar()

        given = re.sub(r"\D", "", last4 or "")
        phone = await self._read(work) if order_id else None
        expected = re.sub(r"\D", "", phone or "")[-4:]
        same = hmac.compare_digest((expected or "\x00" * 4).encode(), given.encode())
        return same and len(expected) == 4 and len(given) == 4

    # --- returns -----------------------------------------------------------------------

    async def create_return(
        self,
        order_id: str,
        sku: str | None,
        kind: str,
        reason: str,
        now: datetime | None = None,
    ) -> ReturnRequest:
        """Opens a return / exchange / refund / repair request for one order line.

        Decided by ``policy.return_decision``: return, exchange and refund need an open
        window; a repair also goes through on the warranty route. ``sku`` may be None for
        a single-line order. Raises NotAllowed (``not_found``, ``unknown_item``,
        ``invalid_value``, ``not_delivered``, ``already_returned``, ``window_closed``,
        ``warranty_expired``, ``already_requested``).
        """
        at = _now(now)
        if kind not in RETURN_KINDS:
            raise NotAllowed("invalid_value", f"unknown kind {kind!r}")

        def work(s: Session) -> ReturnRequest:
            order = order_dto(_lock_order(s, order_id))
            item = order.item(sku) if sku else (order.items[0] if len(order.items) == 1 else None)
            if item is None:
                raise NotAllowed("unknown_item", f"order {order_id} has no item {sku!r}")
            decision = policy.return_decision(order, reason, at, item.sku)
            permitted = decision.allowed or (kind == "repair" and decision.route == "warranty")
            if not permitted:
                raise NotAllowed(decision.code, f"return of {order_id}: {decision.code}")
            existing = s.execute(
                select(ReturnRow.id).where(
                    ReturnRow.order_id == order_id,
                    ReturnRow.sku == item.sku,
                    ReturnRow.status.in_(OPEN_RETURN_STATUSES),
                )
            ).first()
            if existing:
                raise NotAllowed("already_requested", f"{existing[0]} is already open")
            refund: Decimal | None = None
            if kind in ("return", "refund"):
                refund = (item.price * item.qty).quantize(CENT)
            row = ReturnRow(
                id=_next_id(s, ReturnRow.id, f"RT{policy.shop_today(at):%Y%m%d}", 3),
                order_id=order_id,
                sku=item.sku,
                kind=kind,
                reason=reason,
                status="requested",
                refund_amount=refund,
                refund_method=order.payment_method,
                created_at=at,
                refunded_at=None,
            )
            s.add(row)
            s.flush()
            return return_dto(row)

        return await self._run_with_new_id(work)

    async def list_returns(
        self, order_id: str | None = None, customer_id: str | None = None
    ) -> list[ReturnRequest]:
        """Returns of an order and/or of a customer's orders, newest first."""
        if order_id is None and customer_id is None:
            raise ValueError("give order_id or customer_id")

        def work(s: Session) -> list[ReturnRequest]:
            stmt = select(ReturnRow)
            if order_id is not None:
                stmt = stmt.where(ReturnRow.order_id == order_id)
            if customer_id is not None:
                stmt = stmt.join(OrderRow, OrderRow.id == ReturnRow.order_id).where(
                    OrderRow.customer_id == customer_id
                )
            stmt = stmt.order_by(ReturnRow.created_at.desc(), ReturnRow.id.desc())
            return [return_dto(r) for r in s.execute(stmt).scalars().all()]

        return await self._read(work)

    async def get_return(self, return_id: str) -> ReturnRequest | None:
        """The return request with ``return_id``, or None."""

        def work(s: Session) -> ReturnRequest | None:
            row = s.get(ReturnRow, return_id)
            return return_dto(row) if row else None

        return await self._read(work)

    # --- after-sales cases and handoffs --------------------------------------------------

    async def create_case(
        self,
        order_id: str | None,
        customer_id: str | None,
        kind: str,
        description: str,
        now: datetime | None = None,
    ) -> AfterSalesCase:
        """Opens an after-sales case (id ``AS`` + shop date + 3 digits).

        ``customer_id`` is who reports it and defaults to the order's customer (someone who
        proved an order with the phone digits may report for another account's order).
        Raises NotAllowed ``invalid_value`` (kind) or ``not_found`` (order).
        """
        at = _now(now)
        if kind not in CASE_KINDS:
            raise NotAllowed("invalid_value", f"unknown case kind {kind!r}")

        def work(s: Session) -> AfterSalesCase:
            owner = customer_id
            if order_id is not None:
                order = s.get(OrderRow, order_id)
                if order is None:
                    raise NotAllowed("not_found", f"no order {order_id}")
                owner = owner or order.customer_id
            row = AfterSalesCaseRow(
                id=_next_id(s, AfterSalesCaseRow.id, f"AS{policy.shop_today(at):%Y%m%d}", 3),
                order_id=order_id,
                customer_id=owner,
                kind=kind,
                description=(description or "")[:2000],
                status="open",
                created_at=at,
            )
            s.add(row)
            s.flush()
            return case_dto(row)

        return await self._run_with_new_id(work)

    async def record_handoff(
        self,
        conversation_id: str,
        customer_id: str | None,
        order_id: str | None,
        reason: str,
        intent: str | None,
        now: datetime | None = None,
    ) -> HandoffRequest:
        """Records a request for a human agent (id ``HO`` + date + 5 digits)."""
        at = _now(now)

        def work(s: Session) -> HandoffRequest:
            row = HandoffRequestRow(
                id=_next_id(s, HandoffRequestRow.id, f"HO{policy.shop_today(at):%Y%m%d}", 5),
                conversation_id=conversation_id,
                customer_id=customer_id,
                order_id=order_id,
                reason=reason,
                intent=intent,
                created_at=at,
            )
            s.add(row)
            s.flush()
            return handoff_dto(row)

        return await self._run_with_new_id(work)

    async def list_handoffs(self, conversation_id: str) -> list[HandoffRequest]:
        """Handoff requests of a conversation, oldest first."""

        def work(s: Session) -> list[HandoffRequest]:
            rows = s.execute(
                select(HandoffRequestRow)
                .where(HandoffRequestRow.conversation_id == conversation_id)
                .order_by(HandoffRequestRow.created_at, HandoffRequestRow.id)
            ).scalars()
            return [handoff_dto(row) for row in rows]

        return await self._read(work)

    # --- loyalty -------------------------------------------------------------------------

    async def get_loyalty(
        self, customer_id: str, now: datetime | None = None
    ) -> LoyaltyAccount | None:
        """Tier and points; ``expiring_points`` are ledger points expiring within 60 days."""
        today = policy.shop_today(_now(now))

        def work(s: Session) -> LoyaltyAccount | None:
            account = s.get(LoyaltyAccountRow, customer_id)
            if account is None:
                return None
            expiring, first = s.execute(
                select(
                    func.sum(PointsLedgerRow.delta),
                    func.min(PointsLedgerRow.expires_on),
                ).where(
                    PointsLedgerRow.customer_id == customer_id,
                    PointsLedgerRow.delta > 0,
                    PointsLedgerRow.expires_on >= today,
                    PointsLedgerRow.expires_on <= today + timedelta(days=EXPIRING_WITHIN_DAYS),
                )
            ).one()
            return LoyaltyAccount(
                customer_id=account.customer_id,
                tier=account.tier,
                tier_en=account.tier_en,
                points=account.points,
                expiring_points=min(int(expiring or 0), account.points),
                expiring_on=first,
            )

        return await self._read(work)

    async def list_coupons(
        self,
        customer_id: str,
        include_used: bool = False,
        now: datetime | None = None,
        include_expired: bool = False,
    ) -> list[Coupon]:
        """The customer's coupons, soonest expiry first (unused and unexpired by default)."""
        today = policy.shop_today(_now(now))

        def work(s: Session) -> list[Coupon]:
            stmt = select(CouponRow).where(CouponRow.customer_id == customer_id)
            if not include_used:
                stmt = stmt.where(CouponRow.used_at.is_(None))
            if not include_expired:
                stmt = stmt.where(CouponRow.expires_on >= today)
            stmt = stmt.order_by(CouponRow.expires_on, CouponRow.code)
            return [coupon_dto(r) for r in s.execute(stmt).scalars().all()]

        return await self._read(work)
