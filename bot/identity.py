"""Customer tokens signed by the shop (JWT, HS256, ``sub`` = customer id)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

logger = logging.getLogger(__name__)


# (secret, token) -> (customer id, exp, nbf, iat) of tokens whose signature checked out:
# a browser sends the same token with every message, and decoding it was ~3% of a
# gateway's CPU. The time claims are checked again on every use.
_verified: OrderedDict[tuple[str, str], tuple[str, int, int | None, int | None]]
_verified = OrderedDict()
VERIFIED_LIMIT = 10_000


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
    key = (secret, token)
    known = _verified.get(key)
    if known is not None:
        subject, exp, nbf, iat = known
        now = time.time()  # as PyJWT: expired at exp, valid from nbf and iat (no leeway)
        if exp > now and (nbf is None or nbf <= now) and (iat is None or iat <= now):
            return subject
        del _verified[key]  # decoded again below, which rejects it and says why
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
    _verified[key] = (subject, int(claims["exp"]), _time_claim(claims, "nbf"),
                      _time_claim(claims, "iat"))
    if len(_verified) > VERIFIED_LIMIT:
        _verified.popitem(last=False)
    return subject


def _time_claim(claims: dict[str, Any], name: str) -> int | None:
    return int(claims[name]) if name in claims else None


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
