"""Plain snapshots of contacts handed around instead of ORM rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.metrics import models
from bot.metrics.topics import OTHER
from bot.store.db import aware
from bot.store.rows import column_values


@dataclass(frozen=True)
class ContactRecord:
    """A contact as the services, the recorder and the reports see it."""

    id: int
    conversation_id: str
    seq: int
    state: str
    channel: str
    language: str | None
    customer_key: str
    started_at: datetime
    customer_id: str | None = None
    intents: tuple[str, ...] = ()
    topic: str | None = None
    bot_turns: int = 0
    fallbacks: int = 0
    in_form: bool = False
    handed_off: bool = False
    handoff_reason: str | None = None
    handoff_cancelled: bool = False
    agent_id: int | None = None
    first_reply_agent_id: int | None = None
    handoff_at: datetime | None = None
    claimed_at: datetime | None = None
    first_agent_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None
    resolution: str | None = None
    resolved_by: int | None = None
    survey_state: str = models.SURVEY_NONE
    survey_sent_at: datetime | None = None
    survey_agent_id: int | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    comment: str | None = None

    @classmethod
    def of(cls, row: models.Contact) -> ContactRecord:
        """Copy an ORM row."""
        return cls.from_row(column_values(row))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ContactRecord:
        """Copy a ``contacts`` row by column name (a Core row's ``_mapping``)."""
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            seq=row["seq"],
            state=row["state"],
            channel=row["channel"],
            language=row["language"],
            customer_key=row["customer_key"],
            started_at=aware(row["started_at"]),  # type: ignore[arg-type]
            customer_id=row["customer_id"],
            intents=tuple((row["intents"] or "").split()),
            topic=row["topic"],
            bot_turns=row["bot_turns"] or 0,
            fallbacks=row["fallbacks"] or 0,
            in_form=bool(row["in_form"]),
            handed_off=bool(row["handed_off"]),
            handoff_reason=row["handoff_reason"],
            handoff_cancelled=bool(row["handoff_cancelled"]),
            agent_id=row["agent_id"],
            first_reply_agent_id=row["first_reply_agent_id"],
            handoff_at=aware(row["handoff_at"]),
            claimed_at=aware(row["claimed_at"]),
            first_agent_reply_at=aware(row["first_agent_reply_at"]),
            resolved_at=aware(row["resolved_at"]),
            outcome=row["outcome"],
            resolution=row["resolution"],
            resolved_by=row["resolved_by"],
            survey_state=row["survey_state"],
            survey_sent_at=aware(row["survey_sent_at"]),
            survey_agent_id=row["survey_agent_id"],
            rating=row["rating"],
            rated_at=aware(row["rated_at"]),
            comment=row["comment"],
        )

    def with_(self, **changes: Any) -> ContactRecord:
        """Return a copy with some fields changed (tests and the history generator)."""
        return replace(self, **changes)

    @property
    def topic_or_other(self) -> str:
        """The topic, ``other`` while unknown."""
        return self.topic or OTHER

    def day(self, utc_offset: timedelta) -> Any:
        """The shop-local calendar day the contact started."""
        return self.started_at.astimezone(timezone(utc_offset)).date()

    def public(self) -> dict[str, Any]:
        """JSON form for the API (no customer message text)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "state": self.state,
            "channel": self.channel,
            "language": self.language,
            "customer_id": self.customer_id,
            "topic": self.topic,
            "intents": list(self.intents),
            "handed_off": self.handed_off,
            "handoff_reason": self.handoff_reason,
            "agent_id": self.agent_id,
            "started_at": iso(self.started_at),
            "handoff_at": iso(self.handoff_at),
            "first_agent_reply_at": iso(self.first_agent_reply_at),
            "resolved_at": iso(self.resolved_at),
            "outcome": self.outcome,
            "resolution": self.resolution,
            "survey_state": self.survey_state,
            "survey_agent_id": self.survey_agent_id,
            "rating": self.rating,
            "rated_at": iso(self.rated_at),
            "comment": self.comment,
        }
