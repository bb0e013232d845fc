"""Customer tokens signed by the shop (JWT, HS256, ``sub`` = customer id)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import jwt

logger = logging.getLogger(__name__)


def verify_customer_token(token: str | None, secret: str) -> str | None:
    """Return the verified customer id, or None for a missing, bad or expired token.

    Args:
        token: The JWT the shop gave the customer's browser.
        secret: ``CUSTOMER_TOKEN_SECRET``.

    Returns:
        The ``sub`` claim when the signature and expiry check out; otherwise None,
        which means the customer is treated as anonymous.
    """
    if not token or not isinstance(token, str) or len(token) > 4096:
        return None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["sub", "exp"]},
        )
    except jwt.InvalidTokenError as exc:
        logger.info("customer token rejected: %s", type(exc).__name__)
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 64:
        return None
    return subject


def issue_customer_token(
    customer_id: str, secret: str, ttl: timedelta = timedelta(hours=12)
) -> str:
    """Sign a customer token the way a shop would (demo mode and tests).

    Args:
        customer_id: The shop's customer id.
        secret: ``CUSTOMER_TOKEN_SECRET``.
        ttl: Lifetime.

    Returns:
        The encoded JWT.
    """
    now = datetime.now(timezone.utc)
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")
