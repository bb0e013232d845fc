"""SQLAlchemy tables of the gateway database (conversations, handoffs, agents)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

Base = declarative_base()


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class Conversation(Base):
    """One customer's thread on one channel; ``state`` drives the routing."""

    __tablename__ = "conversations"

    id = Column(String(32), primary_key=True)
    channel = Column(String(16), nullable=False)
    sender = Column(String(128), nullable=False)
    customer_id = Column(String(64), nullable=True)
    language = Column(String(8), nullable=True)
    state = Column(String(16), nullable=False, default="bot")
    contact_seq = Column(Integer, nullable=False, default=1)
    assigned_agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    awaiting_ticket = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_message_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_conv_sender"),)


class Message(Base):
    """A message in a transcript; ids only grow, so clients resume after an id."""

    __tablename__ = "messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    author = Column(String(16), nullable=False)  # customer | bot | agent | system
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    text = Column(Text, nullable=False, default="")
    buttons_json = Column(Text, nullable=True)
    custom_json = Column(Text, nullable=True)
    client_message_id = Column(String(64), nullable=True)
    reply_to_id = Column(Integer, nullable=True, index=True)
    customer_id = Column(String(64), nullable=True)
    processed = Column(Boolean, nullable=False, default=True)
    contact_seq = Column(Integer, nullable=False, default=1)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("conversation_id", "client_message_id", name="uq_msg_client"),
    )


class Handoff(Base):
    """A request for a person: queued, then taken by an agent, then resolved."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    reason = Column(String(32), nullable=False)
    intent = Column(String(64), nullable=True)
    order_id = Column(String(32), nullable=True)
    state = Column(String(16), nullable=False, default="queued")
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    queued_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    first_response_at = Column(DateTime(timezone=True), nullable=True)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    resolved_by = Column(Integer, ForeignKey("agents.id"), nullable=True)

    __table_args__ = (Index("ix_handoff_state_queued", "state", "queued_at"),)


class Agent(Base):
    """An inbox account; passwords are stored as salted scrypt hashes."""

    __tablename__ = "agents"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    password_hash = Column(String(256), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class AgentSession(Base):
    """A logged-in inbox session, keyed by a keyed hash of the session token."""

    __tablename__ = "agent_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class Note(Base):
    """An internal note on a conversation; never shown to the customer."""

    __tablename__ = "notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class Ticket(Base):
    """A message left outside service hours, answered when agents are back."""

    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False, index=True)
    reason = Column(String(32), nullable=False)
    order_id = Column(String(32), nullable=True)
    message_id = Column(Integer, ForeignKey("messages.id"), nullable=True)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    closed_at = Column(DateTime(timezone=True), nullable=True)
    closed_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
