"""Who may see which order.

An identified customer (verified by the channel) sees only their own orders; another
customer's order is "not found under your account", never revealed. An anonymous customer
proves an order with its number plus the last 4 digits of the phone on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rasa_sdk import Tracker

from actions.conversation import customer_id, verified_orders
from actions.shop.dto import Order
from actions.shop.repository import ShopRepository

ORDER_ID = re.compile(r"DD\d{12}", re.IGNORECASE)
FOUR_DIGITS = re.compile(r"\d{4,}")

# Why an order cannot be shown (None when it can)
MALFORMED = "malformed"
NOT_FOUND = "not_found"
NOT_YOURS = "not_yours"
NEEDS_PHONE = "needs_phone"


@dataclass(frozen=True)
class OrderAccess:
    """The outcome of looking an order up for the current customer."""

    order_id: str | None
    order: Order | None
    problem: str | None

    @property
    def granted(self) -> bool:
        """True when the order may be shown and acted on."""
        return self.problem is None and self.order is not None


def find_order_id(text: str | None) -> str | None:
    """The first well-formed order number in `text` (upper-cased), or None."""
    match = ORDER_ID.search(text or "")
    return match.group(0).upper() if match else None


def find_last4(text: str | None) -> str | None:
    """The last 4 digits of the first run of 4 or more digits in `text`, or None."""
    match = FOUR_DIGITS.search(text or "")
    return match.group(0)[-4:] if match else None


async def check_access(
    repo: ShopRepository, tracker: Tracker, raw_order_id: str | None
) -> OrderAccess:
    """Looks up the order named by `raw_order_id` for whoever is writing."""
    order_id = find_order_id(raw_order_id)
    if order_id is None:
        return OrderAccess(None, None, MALFORMED)
    order = await repo.get_order(order_id)
    if order is None:
        return OrderAccess(order_id, None, NOT_FOUND)
    owner = customer_id(tracker)
    if owner is not None:
        if order.customer_id != owner:
            return OrderAccess(order_id, None, NOT_YOURS)
        return OrderAccess(order_id, order, None)
    if order_id in verified_orders(tracker):
        return OrderAccess(order_id, order, None)
    return OrderAccess(order_id, order, NEEDS_PHONE)


def needs_phone_check(tracker: Tracker, order_id: str | None) -> bool:
    """True when an anonymous customer still has to prove `order_id`."""
    return (
        order_id is not None
        and customer_id(tracker) is None
        and order_id not in verified_orders(tracker)
    )
