"""Builds the contacts, survey and metrics parts and plugs them into the gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sanic import Blueprint

from bot.events import EventBus
from bot.metrics import models as _models  # noqa: F401 - registers the tables
from bot.metrics.api import MetricsApi
from bot.metrics.contacts import ContactService
from bot.metrics.hooks import ContactHooks
from bot.metrics.listeners import ContactListener, MetricsListener, SurveyListener
from bot.metrics.reader import ReportReader
from bot.metrics.recorder import ContactEventRecorder
from bot.metrics.settings import MetricsSettings
from bot.metrics.store import ContactStore
from bot.metrics.survey import RatingService, SurveyService
from bot.rasa_client import RasaClient
from bot.store import Stores
from bot.store.models import utcnow
from bot.transcript import KeyedLocks, Transcript

logger = logging.getLogger(__name__)


class MetricsModule:
    """Contacts, ratings and reports of one gateway."""

    def __init__(
        self,
        *,
        settings: MetricsSettings,
        stores: Stores,
        bus: EventBus,
        transcript: Transcript,
        locks: KeyedLocks,
        rasa: RasaClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Build the services and subscribe their listeners (queued) to the bus.

        Args:
            settings: Windows and the shop's time zone.
            stores: Gateway stores.
            bus: Event bus.
            transcript: Posts survey messages.
            locks: Per-conversation locks shared with the message path.
            rasa: Reads the tracker after each bot turn.
            clock: Current time.
        """
        self.settings = settings
        self.contacts = ContactStore(stores.db)
        self.contact_service = ContactService(
            contacts=self.contacts, bus=bus, settings=settings, clock=clock
        )
        self.survey = SurveyService(
            stores=stores,
            contacts=self.contacts,
            transcript=transcript,
            bus=bus,
            locks=locks,
            clock=clock,
        )
        self.ratings = RatingService(
            contacts=self.contacts, bus=bus, settings=settings, clock=clock
        )
        self.recorder = ContactEventRecorder(stores.db, settings.utc_offset)
        self.hooks = ContactHooks(self.ratings, rasa, bus)
        self.reader = ReportReader(stores.db)
        self.api = MetricsApi(reader=self.reader, contacts=self.contacts, settings=settings)
        ContactListener(self.contact_service).subscribe(bus)
        SurveyListener(self.survey).subscribe(bus)
        MetricsListener(self.recorder).subscribe(bus)
        self._sweeper: asyncio.Task[None] | None = None

    def blueprint(self) -> Blueprint:
        """The metrics API and dashboard routes."""
        return self.api.blueprint()

    def start(self) -> None:
        """Start closing quiet contacts periodically (inside the running loop)."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        """Stop the sweeper (before the bus drains its queue); close report connections."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
            self._sweeper = None
        await asyncio.to_thread(self.reader.dispose)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self.contact_service.sweep()
            except Exception:  # noqa: BLE001 - try again next round
                logger.exception("closing quiet contacts failed")
