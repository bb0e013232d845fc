"""Plain, immutable records the store hands out instead of ORM rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store import models
from bot.store.db import aware
from bot.store.rows import column_values


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation as the rest of the gateway sees it."""

    id: str
    channel: str
    sender: str
    customer_id: str | None
    language: str | None
    state: str
    contact_seq: int
    assigned_agent_id: int | None
    awaiting_ticket: bool
    created_at: datetime
    last_message_at: datetime

    @classmethod
    def of(cls, row: models.Conversation) -> ConversationRecord:
        """Copy an ORM row."""
        return cls.from_row(column_values(row))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ConversationRecord:
        """Copy a ``conversations`` row by column name (a Core row's ``_mapping``)."""
        return cls(
            id=row["id"],
            channel=row["channel"],
            sender=row["sender"],
            customer_id=row["customer_id"],
            language=row["language"],
            state=row["state"],
            contact_seq=row["contact_seq"],
            assigned_agent_id=row["assigned_agent_id"],
            awaiting_ticket=bool(row["awaiting_ticket"]),
            created_at=aware(row["created_at"]),  # type: ignore[arg-type]
            last_message_at=aware(row["last_message_at"]),  # type: ignore[arg-type]
        )

    def belongs_to_another(self, customer_id: str | None) -> bool:
        """Whether a message verified as ``customer_id`` must not enter this conversation."""
        return bool(self.customer_id and customer_id and self.customer_id != customer_id)


@dataclass(frozen=True)
class MessageRecord:
    """One stored message of a transcript."""

    id: int
    conversation_id: str
    author: str
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] | None = None
    agent_id: int | None = None
    agent_name: str | None = None
    client_message_id: str | None = None
    reply_to_id: int | None = None
    processed: bool = True
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: models.Message, agent_name: str | None = None) -> MessageRecord:
        """Copy an ORM row, decoding the JSON columns."""
        return cls.from_row(column_values(row), agent_name)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], agent_name: str | None = None) -> MessageRecord:
        """Copy a ``messages`` row by column name (a Core row's ``_mapping``), decoding
        the JSON columns."""
        buttons_json, custom_json = row["buttons_json"], row["custom_json"]
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            author=row["author"],
            text=row["text"] or "",
            buttons=json.loads(buttons_json) if buttons_json else [],
            custom=json.loads(custom_json) if custom_json else None,
            agent_id=row["agent_id"],
            agent_name=agent_name,
            client_message_id=row["client_message_id"],
            reply_to_id=row["reply_to_id"],
            processed=bool(row["processed"]),
            created_at=aware(row["created_at"]),
        )

    def public(self) -> dict[str, Any]:
        """Return the customer-visible JSON form (no internal fields)."""
        data: dict[str, Any] = {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "buttons": self.buttons,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
        if self.author == "customer" and self.client_message_id:
            data["client_message_id"] = self.client_message_id
        if self.agent_name:
            data["agent_name"] = self.agent_name
        if self.custom and isinstance(self.custom.get("image"), str):
            data["image"] = self.custom["image"]
        return data


@dataclass(frozen=True)
class HandoffRecord:
    """One request for a person and how it went."""

    id: int
    conversation_id: str
    reason: str
    intent: str | None
    order_id: str | None
    state: str
    channel: str
    language: str | None
    agent_id: int | None
    queued_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: models.Handoff) -> HandoffRecord:
        """Copy an ORM row."""
        return cls(
            id=row.id,
            conversation_id=row.conversation_id,
            reason=row.reason,
            intent=row.intent,
            order_id=row.order_id,
            state=row.state,
            channel=row.channel,
            language=row.language,
            agent_id=row.agent_id,
            queued_at=aware(row.queued_at),  # type: ignore[arg-type]
            claimed_at=aware(row.claimed_at),
            resolved_at=aware(row.resolved_at),
        )


@dataclass(frozen=True)
class AgentRecord:
    """An inbox account without its password hash."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see every conversation and every agent's load."""
        return self.role == "supervisor"

    @classmethod
    def of(cls, row: models.Agent) -> AgentRecord:
        """Copy an ORM row."""
        return cls(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            active=bool(row.active),
        )

    def public(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
        }


@dataclass(frozen=True)
class NoteRecord:
    """An internal note."""

    id: int
    conversation_id: str
    agent_id: int
    agent_name: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class TicketRecord:
    """A message left outside service hours."""

    id: int
    conversation_id: str
    reason: str
    order_id: str | None
    status: str
    text: str
    channel: str
    customer_id: str | None
    language: str | None
    created_at: datetime
