"""Reads and writes of the ``contacts`` table; each call is one transaction.

The only write outside ``contacts`` is the bot's own resolution: the guarded
``conversations`` update (``state = 'bot'`` -> ``'resolved'``) that the handoff store
does for agents, made here in the same transaction that closes the contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.metrics import models
from bot.metrics.models import Contact
from bot.metrics.records import ContactRecord
from bot.metrics.topics import FALLBACK_INTENT, topic_of
from bot.store.conversations import read_conversation
from bot.store.db import Database
from bot.store.models import Agent, Conversation, Handoff, Message
from bot.store.records import ConversationRecord
from bot.store.rows import insert_ids, new_row, write_changes

MAX_INTENTS_CHARS = 2000
MAX_COMMENT_CHARS = 500


@dataclass(frozen=True)
class Closing:
    """How a contact ends."""

    outcome: str
    resolution: str
    at: datetime
    resolved_by: int | None = None
    agent_id: int | None = None


@dataclass(frozen=True)
class RatingResult:
    """What happened to a rating: stored, or refused because one already stood."""

    contact: ContactRecord
    accepted: bool


@dataclass(frozen=True)
class LowRating:
    """A recent low rating for the dashboard."""

    contact: ContactRecord
    agent_name: str | None


def day_bounds(first: date, last: date, utc_offset: timedelta) -> tuple[datetime, datetime]:
    """UTC instants from the start of shop day ``first`` to the end of shop day ``last``."""
    tz = timezone(utc_offset)
    start = datetime.combine(first, datetime.min.time(), tz).astimezone(timezone.utc)
    end = datetime.combine(last, datetime.min.time(), tz).astimezone(timezone.utc)
    return start, end + timedelta(days=1)


def customer_key(conversation: Conversation | ConversationRecord) -> str:
    """Who a contact is from: the verified customer, else the channel's thread."""
    return _customer_key(conversation.customer_id, conversation.channel, conversation.sender)


def _customer_key(customer_id: str | None, channel: str, sender: str) -> str:
    if customer_id:
        return str(customer_id)
    return f"{channel}:{sender}"


# Statements of the contact bookkeeping, built once (see bot/store/rows.py): it runs in
# the transaction of every bot answer.
_contacts: Table = Contact.__table__  # type: ignore[assignment]
_conversations: Table = Conversation.__table__  # type: ignore[assignment]
_CONTACT_KEYS = tuple(_contacts.c.keys())

# The contact of the conversation's current ``contact_seq`` (NULLs if it has none yet)
# with what a new one copies from the conversation (``conv_`` columns): one statement.
_CURRENT_CONTACT = (
    select(
        _contacts,
        _conversations.c.contact_seq.label("conv_contact_seq"),
        _conversations.c.channel.label("conv_channel"),
        _conversations.c.sender.label("conv_sender"),
        _conversations.c.customer_id.label("conv_customer_id"),
        _conversations.c.language.label("conv_language"),
    )
    .select_from(
        _conversations.outerjoin(
            _contacts,
            and_(
                _contacts.c.conversation_id == _conversations.c.id,
                _contacts.c.seq == _conversations.c.contact_seq,
            ),
        )
    )
    .where(_conversations.c.id == bindparam("conversation_id"))
)
_CONTACT_BY_SEQ = select(_contacts).where(
    _contacts.c.conversation_id == bindparam("conversation_id"),
    _contacts.c.seq == bindparam("seq"),
)
_INSERT_CONTACT = insert(_contacts).return_defaults(_contacts.c.id)
_UPDATE_CONTACT = update(_contacts).where(_contacts.c.id == bindparam("b_id"))


def _current_row(
    conn: Connection,
    conversation_id: str,
    create_at: datetime,
    known: ConversationRecord | None = None,
) -> dict[str, Any] | None:
    """The contact of the conversation's current ``contact_seq`` (all columns by name),
    created if missing; None if there is no such conversation.

    ``known``: the conversation as the caller has it (a conversation just created): its
    ``contact_seq`` is the one looked for.
    """
    if known is not None:
        found = conn.execute(
            _CONTACT_BY_SEQ, {"conversation_id": conversation_id, "seq": known.contact_seq}
        ).first()
        if found is not None:
            return dict(found._mapping)
        seq, channel, language = known.contact_seq, known.channel, known.language
        customer_id, key = known.customer_id, customer_key(known)
    else:
        found = conn.execute(_CURRENT_CONTACT, {"conversation_id": conversation_id}).first()
        if found is None:
            return None
        joined = found._mapping
        if joined["id"] is not None:
            return {key: joined[key] for key in _CONTACT_KEYS}
        seq, channel = joined["conv_contact_seq"], joined["conv_channel"]
        language, customer_id = joined["conv_language"], joined["conv_customer_id"]
        key = _customer_key(customer_id, channel, joined["conv_sender"])
    row = new_row(
        _contacts,
        {
            "conversation_id": conversation_id,
            "seq": seq,
            "state": models.OPEN,
            "channel": channel,
            "language": language,
            "customer_id": customer_id,
            "customer_key": key,
            "intents": "",
            "started_at": create_at,
        },
    )
    (row["id"],) = insert_ids(conn, _INSERT_CONTACT, [row])
    return row


def _open_row(conn: Connection, conversation_id: str, at: datetime) -> dict[str, Any] | None:
    row = _current_row(conn, conversation_id, at)
    return row if row is not None and row["state"] == models.OPEN else None


def note_turn(
    session: Session, conversation_id: str, intent: str | None, in_form: bool, at: datetime
) -> ContactRecord | None:
    """Count a bot turn and remember its intent (inside the transaction that stores the
    bot's replies, see ``bot.metrics.hooks``).

    Returns:
        The open contact after the update, or None if the conversation has none open
        (it was resolved meanwhile).
    """
    conn = session.connection()
    row = _open_row(conn, conversation_id, at)
    if row is None:
        return None
    values: dict[str, Any] = {"bot_turns": (row["bot_turns"] or 0) + 1, "in_form": in_form}
    if intent:
        intents = row["intents"]
        joined = f"{intents} {intent}".strip()
        if len(joined) <= MAX_INTENTS_CHARS:
            intents = values["intents"] = joined
        if intent == FALLBACK_INTENT:
            values["fallbacks"] = (row["fallbacks"] or 0) + 1
        values["topic"] = topic_of(intents.split())
    write_changes(conn, _UPDATE_CONTACT, row, values)
    return ContactRecord.from_row(row)


class ContactStore:
    """Contacts of conversations: opened, annotated, closed, rated."""

    def __init__(self, db: Database) -> None:
        """Keep the database.

        Args:
            db: The gateway database.
        """
        self._db = db

    async def open(
        self, conversation_id: str, at: datetime, known: ConversationRecord | None = None
    ) -> ContactRecord | None:
        """Return the contact of the conversation's current contact, creating it.

        Args:
            conversation_id: The conversation.
            at: When the contact starts (if it is created now).
            known: The conversation as the caller has it, if it has it (no re-read).
        """

        def work(session: Session) -> ContactRecord | None:
            row = _current_row(session.connection(), conversation_id, at, known)
            return ContactRecord.from_row(row) if row else None

        try:
            return await self._db.run(work)
        except IntegrityError:  # created at the same moment by another path
            return await self._db.run(work)

    async def current(self, conversation: ConversationRecord) -> ContactRecord | None:
        """Return the contact of the conversation's current ``contact_seq`` (no create).

        Args:
            conversation: The conversation as the caller read it (its ``contact_seq``).
        """

        def work(session: Session) -> ContactRecord | None:
            row = session.execute(
                select(Contact).where(
                    Contact.conversation_id == conversation.id,
                    Contact.seq == conversation.contact_seq,
                )
            ).scalar_one_or_none()
            return ContactRecord.of(row) if row else None

        return await self._db.run(work)

    async def get(self, contact_id: int) -> ContactRecord | None:
        """Return one contact or None."""

        def work(session: Session) -> ContactRecord | None:
            row = session.get(Contact, contact_id)
            return ContactRecord.of(row) if row else None

        return await self._db.run(work)

    async def note_handoff(self, conversation_id: str, reason: str | None, at: datetime) -> None:
        """Mark the open contact as handed off (the first reason and time stay)."""

        def work(session: Session) -> None:
            conn = session.connection()
            row = _open_row(conn, conversation_id, at)
            if row is None:
                return
            values: dict[str, Any] = {"handed_off": True, "handoff_cancelled": False}
            if row["handoff_reason"] is None:
                values["handoff_reason"] = reason
            if row["handoff_at"] is None:
                values["handoff_at"] = at
            write_changes(conn, _UPDATE_CONTACT, row, values)

        await self._db.run(work)

    async def note_cancel(self, conversation_id: str, at: datetime) -> None:
        """The customer withdrew the request for a person (it still counts as a handoff)."""

        def work(session: Session) -> None:
            conn = session.connection()
            row = _open_row(conn, conversation_id, at)
            if row is not None:
                write_changes(conn, _UPDATE_CONTACT, row, {"handoff_cancelled": True})

        await self._db.run(work)

    async def note_agent(self, conversation_id: str, agent_id: int, at: datetime) -> None:
        """An agent took (or was transferred) the conversation."""

        def work(session: Session) -> None:
            conn = session.connection()
            row = _open_row(conn, conversation_id, at)
            if row is None:
                return
            values: dict[str, Any] = {"agent_id": agent_id}
            if row["claimed_at"] is None:
                values["claimed_at"] = at
            write_changes(conn, _UPDATE_CONTACT, row, values)

        await self._db.run(work)

    async def note_agent_reply(self, conversation_id: str, agent_id: int, at: datetime) -> None:
        """Remember the first agent reply of the open contact."""

        def work(session: Session) -> None:
            conn = session.connection()
            row = _open_row(conn, conversation_id, at)
            if row is not None and row["first_agent_reply_at"] is None:
                values = {"first_agent_reply_at": at, "first_reply_agent_id": agent_id}
                write_changes(conn, _UPDATE_CONTACT, row, values)

        await self._db.run(work)

    async def close(self, conversation_id: str, closing: Closing) -> ContactRecord | None:
        """Close the open contact of a conversation (after an agent resolved it).

        Returns:
            The closed contact, or None if none was open.
        """

        def work(session: Session) -> ContactRecord | None:
            row = _open_row(session.connection(), conversation_id, closing.at)
            if row is None:
                return None
            return self._close_row(session, row, closing)

        return await self._db.run(work)

    async def resolve_by_bot(
        self,
        conversation_id: str,
        closing: Closing,
        *,
        last_customer_message_id: int | None = None,
        quiet_since: datetime | None = None,
    ) -> ContactRecord | None:
        """Resolve a bot conversation and close its contact, if nothing moved.

        The conversation goes ``bot`` -> ``resolved`` in one guarded update, so a
        customer message, a handoff or an agent in between wins.

        Args:
            conversation_id: The conversation.
            closing: Outcome, resolution and time.
            last_customer_message_id: Only if this is still the newest customer message.
            quiet_since: Only if nothing was posted since this time.

        Returns:
            The closed contact, or None if the conversation moved on.
        """

        def work(session: Session) -> ContactRecord | None:
            row = _open_row(session.connection(), conversation_id, closing.at)
            if row is None:  # no open contact (or no such conversation)
                return None
            if last_customer_message_id is not None:
                newest = session.execute(
                    select(func.max(Message.id)).where(
                        Message.conversation_id == conversation_id,
                        Message.author == "customer",
                    )
                ).scalar_one()
                if newest is not None and newest > last_customer_message_id:
                    return None
            cond = [
                Conversation.id == conversation_id,
                Conversation.state == "bot",
                Conversation.contact_seq == row["seq"],
                Conversation.awaiting_ticket.is_(False),
            ]
            if quiet_since is not None:
                cond.append(Conversation.last_message_at < quiet_since)
            moved = session.execute(
                update(Conversation)
                .where(*cond)
                .values(state="resolved", updated_at=closing.at)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not moved:
                return None
            return self._close_row(session, row, closing)

        return await self._db.run(work)

    @staticmethod
    def _close_row(session: Session, row: dict[str, Any], closing: Closing) -> ContactRecord:
        found = read_conversation(session.connection(), row["conversation_id"])
        conv = ConversationRecord.from_row(found) if found else None
        handoff_intents = [
            i
            for (i,) in session.execute(
                select(Handoff.intent)
                .where(
                    Handoff.conversation_id == row["conversation_id"],
                    Handoff.queued_at >= row["started_at"],
                    Handoff.intent.is_not(None),
                )
                .order_by(Handoff.id)
            )
        ]
        values: dict[str, Any] = {
            "state": models.CLOSED,
            "outcome": closing.outcome,
            "resolution": closing.resolution,
            "resolved_at": closing.at,
            "resolved_by": closing.resolved_by,
        }
        if closing.agent_id is not None:
            values["agent_id"] = closing.agent_id
        values["topic"] = topic_of([*(row["intents"] or "").split(), *handoff_intents])
        if conv is not None:
            values["customer_id"] = conv.customer_id or row["customer_id"]
            values["customer_key"] = customer_key(conv)
            values["language"] = conv.language or row["language"]
        write_changes(session.connection(), _UPDATE_CONTACT, row, values)
        return ContactRecord.from_row(row)

    async def quiet(self, cutoff: datetime, limit: int = 500) -> list[ContactRecord]:
        """Open bot contacts with nothing posted since ``cutoff`` (none waiting for a person)."""

        def work(session: Session) -> list[ContactRecord]:
            rows = session.execute(
                select(Contact)
                .join(Conversation, Conversation.id == Contact.conversation_id)
                .where(
                    Contact.state == models.OPEN,
                    Contact.seq == Conversation.contact_seq,
                    Conversation.state == "bot",
                    Conversation.awaiting_ticket.is_(False),
                    Conversation.last_message_at < cutoff,
                )
                .limit(limit)
            ).scalars()
            return [
                ContactRecord.of(r) for r in rows if not (r.handed_off and not r.handoff_cancelled)
            ]

        return await self._db.run_in_thread(work)

    async def start_survey(self, contact_id: int, agent_id: int | None, at: datetime) -> bool:
        """Record that the rating prompt goes out now (once per contact).

        Args:
            contact_id: The contact.
            agent_id: The agent the rating will be credited to (None for the bot).
            at: When.

        Returns:
            True if this call started the survey.
        """

        def work(session: Session) -> bool:
            return bool(
                session.execute(
                    update(Contact)
                    .where(Contact.id == contact_id, Contact.survey_state == models.SURVEY_NONE)
                    .values(
                        survey_state=models.SURVEY_SENT,
                        survey_sent_at=at,
                        survey_agent_id=agent_id,
                    )
                ).rowcount
            )

        return await self._db.run(work)

    async def move_survey(self, contact_id: int, from_states: Sequence[str], to_state: str) -> bool:
        """Change the survey state if it is one of ``from_states``."""

        def work(session: Session) -> bool:
            return bool(
                session.execute(
                    update(Contact)
                    .where(Contact.id == contact_id, Contact.survey_state.in_(tuple(from_states)))
                    .values(survey_state=to_state)
                ).rowcount
            )

        return await self._db.run(work)

    async def rate(
        self, contact_id: int, score: int, comment: str | None, at: datetime
    ) -> RatingResult | None:
        """Store the first rating of a contact; a later one is refused.

        Returns:
            The contact and whether the rating was stored, or None if the contact does
            not exist or was never asked.
        """

        def work(session: Session) -> RatingResult | None:
            row = session.get(Contact, contact_id)
            if row is None or row.survey_sent_at is None:
                return None
            if row.rating is not None:
                return RatingResult(ContactRecord.of(row), accepted=False)
            row.rating = score
            row.rated_at = at
            if comment:
                row.comment = comment[:MAX_COMMENT_CHARS]
                row.survey_state = models.SURVEY_DONE
            else:
                row.survey_state = models.SURVEY_RATED
            session.flush()
            return RatingResult(ContactRecord.of(row), accepted=True)

        return await self._db.run(work)

    async def add_comment(self, contact_id: int, text: str) -> ContactRecord | None:
        """Attach the comment that follows a rating (once).

        Returns:
            The contact, or None if it already had one or was not rated.
        """

        def work(session: Session) -> ContactRecord | None:
            row = session.get(Contact, contact_id)
            if row is None or row.rating is None or row.comment is not None:
                return None
            row.comment = text[:MAX_COMMENT_CHARS]
            row.survey_state = models.SURVEY_DONE
            session.flush()
            return ContactRecord.of(row)

        return await self._db.run(work)

    async def low_ratings(
        self, first: date, last: date, utc_offset: timedelta, limit: int = 20
    ) -> list[LowRating]:
        """Latest ratings of 1 or 2 given between two shop days, newest first."""
        start, end = day_bounds(first, last, utc_offset)

        def work(session: Session) -> list[LowRating]:
            rows = session.execute(
                select(Contact, Agent.display_name)
                .outerjoin(Agent, Agent.id == Contact.survey_agent_id)
                .where(
                    Contact.rated_at >= start,
                    Contact.rated_at < end,
                    Contact.rating <= 2,
                )
                .order_by(Contact.rated_at.desc())
                .limit(limit)
            ).all()
            return [LowRating(ContactRecord.of(c), name) for c, name in rows]

        return await self._db.run_in_thread(work)
