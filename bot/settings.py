"""Gateway configuration, read once from the environment."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

from bot.channels.wechat_config import WeChatSettings

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

DEV_CUSTOMER_TOKEN_SECRET = "dev-only-customer-token-secret-change-me"
DEV_AGENT_SESSION_SECRET = "dev-only-agent-session-secret-change-me"

_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_OFFSET_RE = re.compile(r"^([+-])(\d{1,2}):?(\d{2})$")


class SettingsError(ValueError):
    """A configuration value cannot be understood."""


@dataclass(frozen=True)
class ServiceHours:
    """Daily window in which human agents answer, in the shop's local time.

    Attributes:
        start: Opening time (inclusive).
        end: Closing time (exclusive); ``time.max`` stands for 24:00.
        utc_offset: The shop's offset from UTC.
    """

    start: time
    end: time
    utc_offset: timedelta

    @classmethod
    def parse(cls, hours: str, offset: str) -> ServiceHours:
        """Parse ``"09:00-21:00"`` and ``"+08:00"``.

        Args:
            hours: Window as ``HH:MM-HH:MM``; ``24:00`` is allowed as the end.
            offset: UTC offset as ``+HH:MM`` or ``-HHMM``.

        Returns:
            The parsed service hours.

        Raises:
            SettingsError: if either value is malformed.
        """
        match = _HOURS_RE.match(hours.strip())
        if not match:
            raise SettingsError("SERVICE_HOURS must look like 09:00-21:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise SettingsError("SERVICE_HOURS has an impossible time")
        end = time.max if h2 == 24 else time(h2, m2)
        off = _OFFSET_RE.match(offset.strip())
        if not off:
            raise SettingsError("SERVICE_UTC_OFFSET must look like +08:00")
        sign = -1 if off.group(1) == "-" else 1
        delta = timedelta(hours=int(off.group(2)), minutes=int(off.group(3))) * sign
        return cls(start=time(h1, m1), end=end, utc_offset=delta)

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether agents are working at ``now`` (default: the current time).

        Args:
            now: An aware datetime; defaults to the current time.

        Returns:
            True inside the window. A window whose end is before its start spans
            midnight.
        """
        current = (now or datetime.now(timezone.utc)).astimezone(timezone(self.utc_offset))
        local = current.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end or (self.end == time.max and local >= self.start)
        return local >= self.start or local < self.end

    def describe(self) -> str:
        """Return the window as ``HH:MM-HH:MM`` for customer-facing texts."""
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment.

    Attributes:
        rasa_url: Base URL of the Rasa server (REST channel and HTTP API).
        rasa_auth_token: Token for Rasa's HTTP API (tracker reads), if enabled.
        rasa_timeout: Seconds to wait for Rasa before failing open to the queue.
        database_url: The gateway's own database (conversations, handoffs, agents).
        shop_database_url: The shop database, read for the handoff card.
        customer_token_secret: HS256 secret shared with the shop for customer tokens.
        agent_session_secret: Key that protects stored agent session ids.
        service_hours: When agents answer; outside them a handoff becomes a ticket.
        host: Interface to listen on.
        port: Port to listen on.
        demo_mode: Serve the dev-only demo token endpoint and demo agent accounts.
        demo_agent_password: Password of the demo accounts (demo mode only).
        max_message_chars: Longest customer message accepted.
        minutes_per_customer: Handling time used for the expected-wait estimate.
        session_hours: Lifetime of an agent session.
        cookie_secure: Mark the inbox session cookie ``Secure`` (behind HTTPS).
        wechat: The WeChat channels (``WECHAT_*``, ``WECOM_*``; docs/wechat.md).
        redis_url: Redis shared by several gateway instances for live delivery
            (``REDIS_URL``; unset: one instance, in memory; docs/production.md).
    """

    rasa_url: str = "http://localhost:5005"
    rasa_auth_token: str | None = None
    rasa_timeout: float = 20.0
    database_url: str = f"sqlite:///{ROOT / 'var' / 'gateway.db'}"
    shop_database_url: str | None = None
    customer_token_secret: str = DEV_CUSTOMER_TOKEN_SECRET
    agent_session_secret: str = DEV_AGENT_SESSION_SECRET
    service_hours: ServiceHours = ServiceHours(
        start=time(9, 0), end=time(21, 0), utc_offset=timedelta(hours=8)
    )
    host: str = "0.0.0.0"
    port: int = 8080
    demo_mode: bool = False
    demo_agent_password: str = "demo1234"
    max_message_chars: int = 2000
    minutes_per_customer: float = 3.0
    session_hours: float = 12.0
    cookie_secure: bool = False
    wechat: WeChatSettings = WeChatSettings()
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, with working defaults.

        Args:
            env: Variables to read; defaults to ``os.environ``.

        Returns:
            The settings. Development secrets are used, with a warning, when the
            real ones are missing.
        """
        env = os.environ if env is None else env
        token_secret = env.get("CUSTOMER_TOKEN_SECRET") or ""
        if not token_secret:
            logger.warning(
                "CUSTOMER_TOKEN_SECRET is not set: using the development secret; "
                "never run like this in production"
            )
            token_secret = DEV_CUSTOMER_TOKEN_SECRET
        session_secret = env.get("AGENT_SESSION_SECRET") or ""
        if not session_secret:
            logger.warning(
                "AGENT_SESSION_SECRET is not set: using the development secret; "
                "never run like this in production"
            )
            session_secret = DEV_AGENT_SESSION_SECRET
        return cls(
            rasa_url=(env.get("RASA_URL") or cls.rasa_url).rstrip("/"),
            rasa_auth_token=env.get("RASA_AUTH_TOKEN") or None,
            rasa_timeout=float(env.get("RASA_TIMEOUT") or cls.rasa_timeout),
            database_url=env.get("GATEWAY_DATABASE_URL") or cls.database_url,
            shop_database_url=env.get("DATABASE_URL") or None,
            customer_token_secret=token_secret,
            agent_session_secret=session_secret,
            service_hours=ServiceHours.parse(
                env.get("SERVICE_HOURS") or "09:00-21:00",
                env.get("SERVICE_UTC_OFFSET") or "+08:00",
            ),
            host=env.get("GATEWAY_HOST") or env.get("HOST") or cls.host,
            port=int(env.get("GATEWAY_PORT") or env.get("PORT") or cls.port),
            demo_mode=_flag(env.get("DEMO_MODE"), False),
            demo_agent_password=env.get("DEMO_AGENT_PASSWORD") or cls.demo_agent_password,
            max_message_chars=int(env.get("MAX_MESSAGE_CHARS") or cls.max_message_chars),
            minutes_per_customer=float(
                env.get("HANDOFF_MINUTES_PER_CUSTOMER") or cls.minutes_per_customer
            ),
            session_hours=float(env.get("AGENT_SESSION_HOURS") or cls.session_hours),
            cookie_secure=_flag(env.get("COOKIE_SECURE"), False),
            wechat=WeChatSettings.from_env(env),
            redis_url=env.get("REDIS_URL") or None,
        )
