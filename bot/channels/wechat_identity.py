"""Which shop customer a WeChat openid is bound to (read from the shop database).

A bound openid makes the customer *verified*: WeChat itself vouches for the openid
(every callback is signed with the account's token), and the shop bound it to the
account. An unbound openid, or a shop database that cannot be read, means anonymous.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class CustomerDirectory(Protocol):
    """Looks up the customer bound to an openid."""

    async def customer_for(self, openid: str) -> str | None:
        """Return the bound customer id, or None (anonymous)."""


class ShopCustomerDirectory:
    """Reads bindings with ``ShopRepository.get_customer_by_openid``, cached briefly."""

    def __init__(
        self,
        database_url: str | None,
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the directory (the repository is created on first use).

        Args:
            database_url: The shop database (``DATABASE_URL``); None for the shop
                layer's default.
            ttl_seconds: How long a lookup is reused (a new binding shows after this).
            max_entries: Most cached openids.
            clock: Monotonic seconds.
        """
        self._url = database_url
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._repo: Any = None
        self._cache: dict[str, tuple[float, str | None]] = {}

    def _repository(self) -> Any:
        if self._repo is None:
            from actions.shop.db import database_url, get_engine
            from actions.shop.repository import ShopRepository

            url = self._url or database_url()
            if url.startswith("sqlite:///"):
                path = url[len("sqlite:///") :]
                if path and path != ":memory:" and not os.path.exists(path):
                    raise LookupError("shop database file does not exist")
            self._repo = ShopRepository(get_engine(url))
        return self._repo

    async def customer_for(self, openid: str) -> str | None:
        """Return the customer bound to ``openid``, or None."""
        now = self._clock()
        cached = self._cache.get(openid)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            customer = await self._repository().get_customer_by_openid(openid)
        except Exception as exc:  # noqa: BLE001 - import or database failure: anonymous
            logger.warning("openid lookup failed: %s", type(exc).__name__)
            return None
        customer_id = getattr(customer, "id", None) if customer is not None else None
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[openid] = (now + self._ttl, customer_id)
        return customer_id
