"""Queued listeners of contacts, surveys and reporting: each routes to one service."""

from __future__ import annotations

from bot import events
from bot.events import Event, EventBus
from bot.metrics.contacts import ContactService
from bot.metrics.recorder import SURVEY_ROWS, ContactEventRecorder
from bot.metrics.records import ContactRecord
from bot.metrics.survey import SurveyService
from bot.store.records import MessageRecord


class ContactListener:
    """Gateway events -> :class:`ContactService` (the contact record)."""

    def __init__(self, service: ContactService) -> None:
        """Keep the service."""
        self._service = service

    def subscribe(self, bus: EventBus) -> None:
        """Register (queued) for every event that changes a contact."""
        for name in self._service.event_names:
            bus.subscribe(name, self.on_event)

    async def on_event(self, event: Event) -> None:
        """Pass the event on; of sent messages only the agents' matter."""
        if event.name == events.MESSAGE_SENT:
            message: MessageRecord = event.data["message"]
            if message.author != "agent":
                return
        await self._service.perform(event)


class SurveyListener:
    """``contact.resolved`` -> :class:`SurveyService` (the rating prompt)."""

    def __init__(self, service: SurveyService) -> None:
        """Keep the service."""
        self._service = service

    def subscribe(self, bus: EventBus) -> None:
        """Register (queued)."""
        bus.subscribe(events.CONTACT_RESOLVED, self.on_resolved)

    async def on_resolved(self, event: Event) -> None:
        """Ask for a rating."""
        contact: ContactRecord = event.data["contact"]
        await self._service.perform(contact)


class MetricsListener:
    """Contact ends and survey events -> :class:`ContactEventRecorder` (reporting rows)."""

    def __init__(self, recorder: ContactEventRecorder) -> None:
        """Keep the recorder."""
        self._recorder = recorder

    def subscribe(self, bus: EventBus) -> None:
        """Register (queued)."""
        bus.subscribe(events.CONTACT_RESOLVED, self.on_event)
        for name in SURVEY_ROWS:
            bus.subscribe(name, self.on_event)

    async def on_event(self, event: Event) -> None:
        """Append the event's rows."""
        await self._recorder.perform(event)
