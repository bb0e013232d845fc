"""Live order status for the handoff card, read through the shop's repository."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

logger = logging.getLogger(__name__)

_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _fallback_mask_phone(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return ("*" * max(0, len(digits) - 4)) + digits[-4:] if digits else ""


def _fallback_mask_address(address: str | None) -> str:
    return (address or "")[:6] + "****" if address else ""


try:  # The shop layer masks the same way in bot replies; use it when installed.
    from actions.shop.masking import mask_address, mask_phone
except ImportError:  # pragma: no cover - a gateway deployed without the actions package
    mask_phone = _fallback_mask_phone
    mask_address = _fallback_mask_address


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def masked(value: Any, key: str = "") -> Any:
    """Return a JSON-ready copy with phone numbers and addresses masked.

    Args:
        value: A dataclass, dict, list or scalar.
        key: The field name the value sits under (decides what is masked).

    Returns:
        The masked, JSON-serialisable value.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v, key) for v in value]
    lowered = key.lower()
    if isinstance(value, str) and "phone" in lowered:
        return mask_phone(value)
    if isinstance(value, str) and "address" in lowered:
        return mask_address(value)
    return _plain(value)


class OrderLookup(Protocol):
    """Reads one order and a customer's name for the card."""

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """Return the order, masked and JSON-ready, or None if unknown."""

    async def customer_name(self, customer_id: str) -> str | None:
        """Return the customer's name, or None."""


class ShopOrderLookup:
    """Reads orders with ``actions.shop.repository.ShopRepository``."""

    def __init__(self, database_url: str | None) -> None:
        """Configure the lookup (the repository is created on first use).

        Args:
            database_url: The shop database URL (``DATABASE_URL``); None for the
                shop layer's default.
        """
        self._url = database_url
        self._repo: Any = None

    def _repository(self) -> Any:
        if self._repo is None:
            from actions.shop.db import database_url, get_engine
            from actions.shop.repository import ShopRepository

            url = self._url or database_url()
            if url.startswith("sqlite:///"):
                path = url[len("sqlite:///") :]
                if path and path != ":memory:" and not os.path.exists(path):
                    # Never create an empty shop database as a side effect of a read.
                    raise LookupError("shop database file does not exist")
            self._repo = ShopRepository(get_engine(url))
        return self._repo

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """Return the live order, masked, or None.

        Raises:
            LookupError: the shop data cannot be read right now.
        """
        if not _ORDER_ID.match(order_id):
            return None
        try:
            found = await self._repository().get_order(order_id)
        except LookupError:
            raise
        except Exception as exc:  # noqa: BLE001 - import or database failure
            logger.warning("order lookup failed: %s", type(exc).__name__)
            raise LookupError("shop data unavailable") from exc
        return masked(found) if found is not None else None

    async def customer_name(self, customer_id: str) -> str | None:
        """Return a customer's name, or None (unknown or unavailable)."""
        try:
            found = await self._repository().get_customer(customer_id)
        except Exception:  # noqa: BLE001
            return None
        return getattr(found, "name", None) if found is not None else None
