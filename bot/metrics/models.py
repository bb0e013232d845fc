"""Tables of contacts, their outcomes and the append-only reporting events.

Both live in the gateway database next to conversations (same declarative base, so
``Database.create_schema`` creates them once this module is imported).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.store.models import Base, utcnow

# Contact states and outcomes.
OPEN = "open"
CLOSED = "closed"
OUTCOME_BOT = "bot"  # resolved by the bot (thanks/goodbye, or inactivity after a served need)
OUTCOME_AGENT = "agent"  # resolved by an agent or supervisor after a handoff
OUTCOME_ABANDONED = "abandoned"  # went quiet without a served need
OUTCOMES = (OUTCOME_BOT, OUTCOME_AGENT, OUTCOME_ABANDONED)
RESOLVED_OUTCOMES = (OUTCOME_BOT, OUTCOME_AGENT)

# Survey states of a contact.
SURVEY_NONE = "none"  # never asked (abandoned, or the customer moved on first)
SURVEY_SENT = "sent"  # prompt sent, no answer yet
SURVEY_RETRY = "retry"  # an invalid answer came; asked once more
SURVEY_RATED = "rated"  # rated; a comment may follow
SURVEY_DONE = "done"  # rated and commented (or the comment was skipped)
SURVEY_DROPPED = "dropped"  # a second invalid answer: no more asking
SURVEY_PENDING = (SURVEY_SENT, SURVEY_RETRY)


class Contact(Base):
    """One contact: a conversation from a first customer message to its resolution."""

    __tablename__ = "contacts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(32), ForeignKey("conversations.id"), nullable=False)
    seq = Column(Integer, nullable=False)  # the conversation's contact_seq
    state = Column(String(16), nullable=False, default=OPEN)
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=True)
    customer_id = Column(String(64), nullable=True)  # verified id, if any
    customer_key = Column(String(200), nullable=False)  # customer id, else channel:sender
    intents = Column(Text, nullable=False, default="")  # space-separated, in order
    topic = Column(String(32), nullable=True)
    bot_turns = Column(Integer, nullable=False, default=0)
    fallbacks = Column(Integer, nullable=False, default=0)
    in_form = Column(Boolean, nullable=False, default=False)  # a form was active at last turn
    handed_off = Column(Boolean, nullable=False, default=False)
    handoff_reason = Column(String(32), nullable=True)
    handoff_cancelled = Column(Boolean, nullable=False, default=False)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    first_reply_agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    started_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    handoff_at = Column(DateTime(timezone=True), nullable=True)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    first_agent_reply_at = Column(DateTime(timezone=True), nullable=True)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    outcome = Column(String(16), nullable=True)
    resolution = Column(String(16), nullable=True)  # thanks | goodbye | inactivity | agent
    resolved_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
    survey_state = Column(String(16), nullable=False, default=SURVEY_NONE)
    survey_sent_at = Column(DateTime(timezone=True), nullable=True)
    survey_agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    rating = Column(Integer, nullable=True)
    rated_at = Column(DateTime(timezone=True), nullable=True)
    comment = Column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_contact_seq"),
        Index("ix_contact_state", "state"),
        Index("ix_contact_rated", "rated_at"),
    )


class ContactEvent(Base):
    """One reporting fact about a contact; rows are only ever appended.

    Every row carries the contact's dimensions (day, channel, topic, language,
    customer, whether it was handed off, its outcome in ``label`` where the fact is
    about the contact as a whole) so each metric is one aggregate over one name.
    """

    __tablename__ = "contact_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(32), nullable=False)
    contact_id = Column(Integer, nullable=False)
    conversation_id = Column(String(32), nullable=False)
    day = Column(Date, nullable=False)  # shop-local day the contact started
    channel = Column(String(16), nullable=False)
    topic = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False)
    customer_key = Column(String(200), nullable=False)
    handed_off = Column(Boolean, nullable=False)
    agent_id = Column(Integer, nullable=True)
    label = Column(String(32), nullable=True)
    value = Column(Float, nullable=True)
    started_at = Column(DateTime(timezone=True), nullable=False)  # the contact's start
    ended_at = Column(DateTime(timezone=True), nullable=False)  # when this fact happened
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (
        # Every report query: one name over a day range, grouped by the dimensions
        # (covering, so the aggregate never touches the table itself).
        Index(
            "ix_ce_report",
            "name",
            "day",
            "channel",
            "topic",
            "language",
            "agent_id",
            "handed_off",
            "label",
            "value",
        ),
        Index("ix_ce_contact", "contact_id", "name"),
        Index("ix_ce_repeat", "customer_key", "topic", "ended_at"),
    )
