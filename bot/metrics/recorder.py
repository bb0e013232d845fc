"""Appends the reporting rows of ``contact_events``; the only writer of that table.

Every row carries the dimensions of its contact (shop day it started, channel, topic,
language, customer, whether it was handed off) plus the agent the fact is credited to,
so every metric is one aggregate over one row name. Rows are only ever inserted.

Row names and what ``label`` / ``value`` / ``agent_id`` hold:

======================== ===================== ======================== ====================
name                     label                 value                    agent_id
======================== ===================== ======================== ====================
contact.resolved         outcome               seconds first msg->end   holder at the end
contact.handoff          handoff reason        seconds first msg->handoff holder at the end
contact.repeat           outcome (earlier one) seconds between them     holder (earlier one)
agent.first_response     -                     seconds handoff->reply   who replied first
agent.handling           -                     seconds claim->resolve   holder at the end
bot.turns                -                     messages the bot handled -
bot.fallbacks            -                     of them not understood   -
csat.sent                outcome               -                        credited agent
csat.submitted           outcome               rating 1-5               credited agent
csat.duplicate           outcome               the refused rating       credited agent
csat.invalid / dropped   outcome               -                        credited agent
csat.commented           outcome               -                        credited agent
======================== ===================== ======================== ====================

``contact.repeat`` is written when a contact ends, for the latest earlier *resolved*
contact of the same customer on the same (known) topic that ended before this one
started, at most 30 days before, once per earlier contact. Its dimensions are the
earlier contact's, so FCR over a range is ``1 - repeats within the window / resolved``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot import events
from bot.events import Event
from bot.metrics import models
from bot.metrics.models import ContactEvent
from bot.metrics.records import ContactRecord
from bot.metrics.settings import MAX_FCR_WINDOW_DAYS
from bot.metrics.topics import OTHER
from bot.store.db import Database, aware

RESOLVED = "contact.resolved"
HANDOFF = "contact.handoff"
REPEAT = "contact.repeat"
FIRST_RESPONSE = "agent.first_response"
HANDLING = "agent.handling"
BOT_TURNS = "bot.turns"
FALLBACKS = "bot.fallbacks"
CSAT_SENT = "csat.sent"
CSAT_SUBMITTED = "csat.submitted"
CSAT_DUPLICATE = "csat.duplicate"
CSAT_INVALID = "csat.invalid"
CSAT_DROPPED = "csat.dropped"
CSAT_COMMENTED = "csat.commented"

# Survey events on the bus -> the row they append.
SURVEY_ROWS = {
    events.CSAT_SENT: CSAT_SENT,
    events.CSAT_SUBMITTED: CSAT_SUBMITTED,
    events.CSAT_DUPLICATE: CSAT_DUPLICATE,
    events.CSAT_INVALID: CSAT_INVALID,
    events.CSAT_DROPPED: CSAT_DROPPED,
    events.CSAT_COMMENTED: CSAT_COMMENTED,
}
REPEAT_LOOKBACK = timedelta(days=MAX_FCR_WINDOW_DAYS)

Row = dict[str, Any]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _row(
    name: str,
    contact: ContactRecord,
    utc_offset: timedelta,
    *,
    at: datetime,
    label: str | None = None,
    value: float | None = None,
    agent_id: int | None = None,
) -> Row:
    return {
        "name": name,
        "contact_id": contact.id,
        "conversation_id": contact.conversation_id,
        "day": contact.day(utc_offset),
        "channel": contact.channel,
        "topic": contact.topic_or_other,
        "language": contact.language or "zh",
        "customer_key": contact.customer_key,
        "handed_off": contact.handed_off,
        "agent_id": agent_id,
        "label": label,
        "value": value,
        "started_at": contact.started_at,
        "ended_at": at,
        "created_at": at,
    }


def resolution_rows(contact: ContactRecord, utc_offset: timedelta) -> list[Row]:
    """The rows a closed contact adds (everything but the repeat row).

    Args:
        contact: The closed contact (``resolved_at`` and ``outcome`` set).
        utc_offset: The shop's time zone (report days).

    Returns:
        Rows ready for ``insert(ContactEvent)``.
    """
    end = contact.resolved_at or contact.started_at
    rows = [
        _row(
            RESOLVED,
            contact,
            utc_offset,
            at=end,
            label=contact.outcome,
            value=_seconds(contact.started_at, end),
            agent_id=contact.agent_id,
        )
    ]
    if contact.handed_off:
        rows.append(
            _row(
                HANDOFF,
                contact,
                utc_offset,
                at=contact.handoff_at or end,
                label=contact.handoff_reason,
                value=_seconds(contact.started_at, contact.handoff_at),
                agent_id=contact.agent_id,
            )
        )
    if contact.first_agent_reply_at is not None:
        waited_from = contact.handoff_at or contact.claimed_at or contact.started_at
        rows.append(
            _row(
                FIRST_RESPONSE,
                contact,
                utc_offset,
                at=contact.first_agent_reply_at,
                value=_seconds(waited_from, contact.first_agent_reply_at),
                agent_id=contact.first_reply_agent_id or contact.agent_id,
            )
        )
    if contact.outcome == models.OUTCOME_AGENT and contact.claimed_at is not None:
        rows.append(
            _row(
                HANDLING,
                contact,
                utc_offset,
                at=end,
                value=_seconds(contact.claimed_at, end),
                agent_id=contact.agent_id,
            )
        )
    if contact.bot_turns:
        rows.append(_row(BOT_TURNS, contact, utc_offset, at=end, value=float(contact.bot_turns)))
    if contact.fallbacks:
        rows.append(_row(FALLBACKS, contact, utc_offset, at=end, value=float(contact.fallbacks)))
    return rows


def survey_row(
    name: str,
    contact: ContactRecord,
    utc_offset: timedelta,
    at: datetime,
    value: float | None = None,
) -> Row:
    """A ``csat.*`` row, credited to the agent recorded when the survey was sent."""
    return _row(
        name,
        contact,
        utc_offset,
        at=at,
        label=contact.outcome,
        value=value,
        agent_id=contact.survey_agent_id,
    )


def repeat_row(earlier: Row, later_started_at: datetime) -> Row:
    """The row saying the customer came back on the topic of ``earlier``.

    Args:
        earlier: The earlier contact's ``contact.resolved`` row (as a dict).
        later_started_at: When the later contact started.

    Returns:
        A row with the earlier contact's dimensions.
    """
    return {
        **{k: earlier[k] for k in _DIMENSIONS},
        "name": REPEAT,
        "value": _seconds(earlier["ended_at"], later_started_at),
        "ended_at": later_started_at,
        "created_at": later_started_at,
    }


_DIMENSIONS = (
    "contact_id",
    "conversation_id",
    "day",
    "channel",
    "topic",
    "language",
    "customer_key",
    "handed_off",
    "agent_id",
    "label",
    "started_at",
)


def find_repeat(session: Session, contact: ContactRecord) -> Row | None:
    """The repeat row a contact ending now adds, if it repeats an earlier one."""
    topic = contact.topic_or_other
    if topic == OTHER:
        return None  # an unknown topic is never "the same topic"
    earlier = (
        session.execute(
            select(ContactEvent)
            .where(
                ContactEvent.customer_key == contact.customer_key,
                ContactEvent.topic == topic,
                ContactEvent.ended_at <= contact.started_at,
                ContactEvent.ended_at >= contact.started_at - REPEAT_LOOKBACK,
                ContactEvent.name == RESOLVED,
                ContactEvent.label.in_(models.RESOLVED_OUTCOMES),
                ContactEvent.contact_id != contact.id,
            )
            .order_by(ContactEvent.ended_at.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    if earlier is None:
        return None
    already = session.execute(
        select(ContactEvent.id).where(
            ContactEvent.contact_id == earlier.contact_id, ContactEvent.name == REPEAT
        )
    ).first()
    if already is not None:
        return None
    row = {k: getattr(earlier, k) for k in (*_DIMENSIONS, "ended_at")}
    row["started_at"] = aware(row["started_at"])
    row["ended_at"] = aware(row["ended_at"])
    if isinstance(row["day"], str):
        row["day"] = date.fromisoformat(row["day"])
    return repeat_row(row, contact.started_at)


class ContactEventRecorder:
    """Turns contact and survey events into appended ``contact_events`` rows."""

    def __init__(
        self,
        db: Database,
        utc_offset: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Wire the recorder.

        Args:
            db: The gateway database.
            utc_offset: The shop's time zone (report days).
            clock: Current time for survey rows (default: the event's time).
        """
        self._db = db
        self._offset = utc_offset
        self._clock = clock

    async def perform(self, event: Event) -> None:
        """Append the rows of one ``contact.resolved`` or ``csat.*`` event."""
        contact: ContactRecord | None = event.data.get("contact")
        if contact is None:
            return
        at = self._clock() if self._clock else event.at
        if event.name == events.CONTACT_RESOLVED:
            rows = resolution_rows(contact, self._offset)

            def work(session: Session) -> None:
                repeat = find_repeat(session, contact)
                session.execute(insert(ContactEvent), rows + ([repeat] if repeat else []))

            await self._db.run(work)
            return
        name = SURVEY_ROWS.get(event.name)
        if name is None:
            return
        value: float | None = None
        if event.name == events.CSAT_SUBMITTED and contact.rating is not None:
            value = float(contact.rating)
        elif event.name == events.CSAT_DUPLICATE and isinstance(event.data.get("score"), int):
            value = float(event.data["score"])
        row = survey_row(name, contact, self._offset, at, value)

        def append(session: Session) -> None:
            session.execute(insert(ContactEvent), [row])

        await self._db.run(append)
