"""Configuration of contacts, ratings and metrics (environment, with defaults)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.settings import SettingsError

MAX_FCR_WINDOW_DAYS = 30  # repeat contacts are recorded this far back


@dataclass(frozen=True)
class MetricsSettings:
    """Knobs of the contact lifecycle and the reports.

    Attributes:
        fcr_window_days: A contact again on the same topic within this many days
            means the first one was not resolved (``FCR_WINDOW_DAYS``).
        inactivity_minutes: A bot contact quiet this long is closed
            (``CONTACT_INACTIVITY_MINUTES``).
        sweep_seconds: How often quiet contacts are looked for
            (``CONTACT_SWEEP_SECONDS``).
        reask_minutes: A typed answer that is not 1-5 within this time after the
            prompt is asked again once (``RATING_REASK_MINUTES``); later, or the second
            time, the survey is dropped and the message goes to the bot.
        comment_minutes: After a rating, the next message within this time is the
            comment (``RATING_COMMENT_MINUTES``).
        utc_offset: The shop's time zone; report days are shop days.
    """

    fcr_window_days: float = 7.0
    inactivity_minutes: float = 30.0
    sweep_seconds: float = 60.0
    reask_minutes: float = 60.0
    comment_minutes: float = 30.0
    utc_offset: timedelta = timedelta(hours=8)

    @classmethod
    def from_env(
        cls, utc_offset: timedelta, env: Mapping[str, str] | None = None
    ) -> MetricsSettings:
        """Read the settings.

        Args:
            utc_offset: The shop's offset (``SERVICE_UTC_OFFSET``, parsed by Settings).
            env: Variables to read; defaults to ``os.environ``.

        Returns:
            The settings.

        Raises:
            SettingsError: a value is not a positive number, or the FCR window is
                longer than 30 days.
        """
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive")
            return value

        window = number("FCR_WINDOW_DAYS", cls.fcr_window_days)
        if window > MAX_FCR_WINDOW_DAYS:
            raise SettingsError(f"FCR_WINDOW_DAYS must be at most {MAX_FCR_WINDOW_DAYS}")
        return cls(
            fcr_window_days=window,
            inactivity_minutes=number("CONTACT_INACTIVITY_MINUTES", cls.inactivity_minutes),
            sweep_seconds=number("CONTACT_SWEEP_SECONDS", cls.sweep_seconds),
            reask_minutes=number("RATING_REASK_MINUTES", cls.reask_minutes),
            comment_minutes=number("RATING_COMMENT_MINUTES", cls.comment_minutes),
            utc_offset=utc_offset,
        )
