"""The shop-data layer: models, repository, rules and masking.

Actions use :class:`ShopRepository` (async) and the pure functions in ``policy`` and
``masking``; nothing else touches the database.
"""

from __future__ import annotations

from actions.shop.policy import NotAllowed, ReturnDecision
from actions.shop.repository import ShopRepository

__all__ = ["NotAllowed", "ReturnDecision", "ShopRepository"]
