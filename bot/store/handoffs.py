"""Handoff state changes, notes and tickets.

Every state change is one guarded ``UPDATE ... WHERE state = <expected>`` inside one
transaction, so two agents (or an agent and a customer) can never both win a race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store.db import Database, aware
from bot.store.models import Agent, Conversation, Handoff, Message, Note, Ticket, utcnow
from bot.store.records import (
    AgentRecord,
    ConversationRecord,
    HandoffRecord,
    MessageRecord,
    NoteRecord,
    TicketRecord,
)

OPEN_HANDOFF_STATES = ("queued", "agent")


@dataclass(frozen=True)
class QueueEntry:
    """A waiting conversation with its place in the queue."""

    handoff: HandoffRecord
    conversation: ConversationRecord
    position: int


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation with its open (or latest) handoff, for inbox lists."""

    conversation: ConversationRecord
    handoff: HandoffRecord | None


@dataclass(frozen=True)
class AgentLoad:
    """How many conversations an agent holds right now."""

    agent: AgentRecord
    active_conversations: int


def _open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.execute(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.state.in_(OPEN_HANDOFF_STATES),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _latest_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.execute(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())
        .limit(1)
    ).scalar_one_or_none()


class HandoffStore:
    """Queue, claim, transfer and resolve; notes and tickets."""

    def __init__(self, db: Database) -> None:
        """Keep the database.

        Args:
            db: The gateway database.
        """
        self._db = db

    async def request(
        self,
        conversation_id: str,
        reason: str,
        intent: str | None,
        order_id: str | None,
    ) -> tuple[HandoffRecord, bool]:
        """Queue a conversation for a person unless it already waits or has one.

        Args:
            conversation_id: The conversation.
            reason: Why the bot (or the gateway) hands over.
            intent: The intent that led here, if known.
            order_id: The order in question, if any.

        Returns:
            The open handoff and whether this call created it.
        """

        def work(session: Session) -> tuple[HandoffRecord, bool]:
            now = utcnow()
            moved = session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.state.in_(("bot", "resolved")),
                )
                .values(state="queued", updated_at=now, awaiting_ticket=False)
            ).rowcount
            if moved:
                conv = session.get(Conversation, conversation_id)
                assert conv is not None
                row = Handoff(
                    conversation_id=conversation_id,
                    reason=reason,
                    intent=intent,
                    order_id=order_id,
                    state="queued",
                    channel=conv.channel,
                    language=conv.language,
                    queued_at=now,
                )
                session.add(row)
                session.flush()
                return HandoffRecord.of(row), True
            found = _open_handoff(session, conversation_id)
            if found is None:
                raise LookupError("conversation has no open handoff")
            if order_id and not found.order_id:
                found.order_id = order_id
            return HandoffRecord.of(found), False

        return await self._db.run(work)

    async def position(self, conversation_id: str) -> tuple[int, int] | None:
        """Return ``(position, queue_length)`` of a queued conversation, or None."""

        def work(session: Session) -> tuple[int, int] | None:
            mine = session.execute(
                select(Handoff).where(
                    Handoff.conversation_id == conversation_id,
                    Handoff.state == "queued",
                )
            ).scalar_one_or_none()
            total = session.execute(
                select(func.count()).where(Handoff.state == "queued")
            ).scalar_one()
            if mine is None:
                return None
            ahead = session.execute(
                select(func.count()).where(
                    Handoff.state == "queued",
                    (Handoff.queued_at < mine.queued_at)
                    | ((Handoff.queued_at == mine.queued_at) & (Handoff.id < mine.id)),
                )
            ).scalar_one()
            return int(ahead) + 1, int(total)

        return await self._db.run(work)

    async def queue(self) -> list[QueueEntry]:
        """Return every waiting conversation, longest wait first."""

        def work(session: Session) -> list[QueueEntry]:
            rows = session.execute(
                select(Handoff, Conversation)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.state == "queued", Conversation.state == "queued")
                .order_by(Handoff.queued_at, Handoff.id)
            ).all()
            return [
                QueueEntry(HandoffRecord.of(h), ConversationRecord.of(c), i + 1)
                for i, (h, c) in enumerate(rows)
            ]

        return await self._db.run_in_thread(work)

    async def claim(self, conversation_id: str, agent_id: int) -> HandoffRecord | None:
        """Give a queued conversation to an agent; at most one caller ever wins.

        Args:
            conversation_id: The conversation.
            agent_id: The claiming agent.

        Returns:
            The claimed handoff, or None if it was not (or no longer) queued.
        """

        def work(session: Session) -> HandoffRecord | None:
            now = utcnow()
            won = session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.state == "queued")
                .values(state="agent", assigned_agent_id=agent_id, updated_at=now)
            ).rowcount
            if not won:
                return None
            row = _open_handoff(session, conversation_id)
            assert row is not None
            row.state = "agent"
            row.agent_id = agent_id
            row.claimed_at = now
            session.flush()
            return HandoffRecord.of(row)

        return await self._db.run(work)

    async def cancel(self, conversation_id: str) -> bool:
        """Withdraw a queued request (the customer changed their mind).

        Returns:
            True if the conversation was queued and is now back with the bot.
        """

        def work(session: Session) -> bool:
            now = utcnow()
            moved = session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.state == "queued")
                .values(state="bot", updated_at=now)
            ).rowcount
            if moved:
                session.execute(
                    update(Handoff)
                    .where(
                        Handoff.conversation_id == conversation_id,
                        Handoff.state == "queued",
                    )
                    .values(state="cancelled", resolved_at=now)
                )
            return bool(moved)

        return await self._db.run(work)

    async def transfer(
        self, conversation_id: str, from_agent_id: int | None, to_agent_id: int
    ) -> HandoffRecord | None:
        """Hand an agent's conversation to another agent.

        Args:
            conversation_id: The conversation.
            from_agent_id: The current holder, or None to take it from anyone
                (supervisors).
            to_agent_id: The new holder (must be an active account).

        Returns:
            The updated handoff, or None if the conversation was not held as
            expected or the target is unknown.
        """

        def work(session: Session) -> HandoffRecord | None:
            target = session.get(Agent, to_agent_id)
            if target is None or not target.active:
                return None
            cond = [Conversation.id == conversation_id, Conversation.state == "agent"]
            if from_agent_id is not None:
                cond.append(Conversation.assigned_agent_id == from_agent_id)
            moved = session.execute(
                update(Conversation)
                .where(*cond)
                .values(assigned_agent_id=to_agent_id, updated_at=utcnow())
            ).rowcount
            if not moved:
                return None
            row = _open_handoff(session, conversation_id)
            assert row is not None
            row.agent_id = to_agent_id
            session.flush()
            return HandoffRecord.of(row)

        return await self._db.run(work)

    async def resolve(
        self, conversation_id: str, agent_id: int, any_holder: bool
    ) -> HandoffRecord | None:
        """End the human part of a contact; the bot answers the next message.

        Args:
            conversation_id: The conversation.
            agent_id: Who resolves it.
            any_holder: Allow resolving a conversation held by someone else, or
                still queued (supervisors).

        Returns:
            The resolved handoff, or None if the caller may not resolve it now.
        """

        def work(session: Session) -> HandoffRecord | None:
            now = utcnow()
            if any_holder:
                cond = [Conversation.state.in_(OPEN_HANDOFF_STATES)]
            else:
                cond = [
                    Conversation.state == "agent",
                    Conversation.assigned_agent_id == agent_id,
                ]
            moved = session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, *cond)
                .values(state="resolved", assigned_agent_id=None, updated_at=now)
            ).rowcount
            if not moved:
                return None
            row = _open_handoff(session, conversation_id)
            assert row is not None
            row.state = "resolved"
            row.resolved_at = now
            row.resolved_by = agent_id
            if row.agent_id is None:
                row.agent_id = agent_id
            session.flush()
            return HandoffRecord.of(row)

        return await self._db.run(work)

    async def reopen(self, conversation_id: str) -> ConversationRecord | None:
        """Start a new contact with the bot after a resolution.

        Returns:
            The conversation, now with the bot, or None if it was not resolved.
        """

        def work(session: Session) -> ConversationRecord | None:
            moved = session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.state == "resolved",
                )
                .values(
                    state="bot",
                    contact_seq=Conversation.contact_seq + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            row = session.get(Conversation, conversation_id) if moved else None
            return ConversationRecord.of(row) if row else None

        return await self._db.run(work)

    async def add_agent_reply(
        self, conversation_id: str, agent_id: int, text: str
    ) -> MessageRecord | None:
        """Store an agent's reply if that agent holds the conversation.

        Returns:
            The stored message, or None if the agent does not hold it (any more).
        """

        def work(session: Session) -> MessageRecord | None:
            conv = session.execute(
                select(Conversation).where(
                    Conversation.id == conversation_id,
                    Conversation.state == "agent",
                    Conversation.assigned_agent_id == agent_id,
                )
            ).scalar_one_or_none()
            if conv is None:
                return None
            now = utcnow()
            row = Message(
                conversation_id=conversation_id,
                author="agent",
                agent_id=agent_id,
                text=text,
                contact_seq=conv.contact_seq,
                created_at=now,
            )
            session.add(row)
            conv.last_message_at = now
            session.execute(
                update(Handoff)
                .where(
                    Handoff.conversation_id == conversation_id,
                    Handoff.state == "agent",
                    Handoff.first_response_at.is_(None),
                )
                .values(first_response_at=now)
            )
            session.flush()
            agent = session.get(Agent, agent_id)
            return MessageRecord.of(row, agent.display_name if agent else None)

        return await self._db.run(work)

    async def current(self, conversation_id: str) -> HandoffRecord | None:
        """Return the open handoff, else the latest one, else None."""

        def work(session: Session) -> HandoffRecord | None:
            row = _open_handoff(session, conversation_id) or _latest_handoff(
                session, conversation_id
            )
            return HandoffRecord.of(row) if row else None

        return await self._db.run(work)

    async def conversations(
        self, agent_id: int | None, states: Sequence[str], limit: int = 200
    ) -> list[ConversationSummary]:
        """List conversations for the inbox, most recent activity first.

        Args:
            agent_id: Only those held by this agent; None for all (supervisors).
            states: Conversation states to include.
            limit: Most rows to return.

        Returns:
            Conversations with their open or latest handoff.
        """

        def work(session: Session) -> list[ConversationSummary]:
            query = select(Conversation).where(Conversation.state.in_(tuple(states)))
            if agent_id is not None:
                query = query.where(Conversation.assigned_agent_id == agent_id)
            rows = session.execute(
                query.order_by(Conversation.last_message_at.desc()).limit(limit)
            ).scalars()
            result = []
            for row in rows:
                handoff = _open_handoff(session, row.id) or _latest_handoff(session, row.id)
                result.append(
                    ConversationSummary(
                        ConversationRecord.of(row),
                        HandoffRecord.of(handoff) if handoff else None,
                    )
                )
            return result

        return await self._db.run_in_thread(work)

    async def agent_loads(self) -> list[AgentLoad]:
        """Return every active agent with the number of conversations they hold."""

        def work(session: Session) -> list[AgentLoad]:
            counts = dict(
                session.execute(
                    select(Conversation.assigned_agent_id, func.count())
                    .where(Conversation.state == "agent")
                    .group_by(Conversation.assigned_agent_id)
                ).all()
            )
            agents = session.execute(
                select(Agent).where(Agent.active.is_(True)).order_by(Agent.username)
            ).scalars()
            return [AgentLoad(AgentRecord.of(a), int(counts.get(a.id, 0))) for a in agents]

        return await self._db.run_in_thread(work)

    async def recent_claim_waits(self, limit: int = 20) -> list[float]:
        """Seconds between queueing and claiming for the latest claimed handoffs."""

        def work(session: Session) -> list[float]:
            rows = session.execute(
                select(Handoff.queued_at, Handoff.claimed_at)
                .where(Handoff.claimed_at.is_not(None))
                .order_by(Handoff.claimed_at.desc())
                .limit(limit)
            ).all()
            waits = []
            for queued, claimed in rows:
                q, c = aware(queued), aware(claimed)
                if q and c:
                    waits.append((c - q).total_seconds())
            return waits

        return await self._db.run(work)

    async def agent_may_view(self, conversation_id: str, agent_id: int) -> bool:
        """Whether a (non-supervisor) agent may open a conversation.

        Agents see what waits in the queue, what they hold, handled or answered
        before, and conversations with an open ticket.
        """

        def work(session: Session) -> bool:
            conv = session.get(Conversation, conversation_id)
            if conv is None:
                return False
            if conv.state == "queued" or conv.assigned_agent_id == agent_id:
                return True
            handled = session.execute(
                select(Handoff.id).where(
                    Handoff.conversation_id == conversation_id,
                    Handoff.agent_id == agent_id,
                )
            ).first()
            if handled is not None:
                return True
            replied = session.execute(
                select(Message.id).where(
                    Message.conversation_id == conversation_id, Message.agent_id == agent_id
                )
            ).first()
            if replied is not None:
                return True
            ticket = session.execute(
                select(Ticket.id).where(
                    Ticket.conversation_id == conversation_id, Ticket.status == "open"
                )
            ).first()
            return ticket is not None

        return await self._db.run(work)

    async def add_note(self, conversation_id: str, agent_id: int, text: str) -> NoteRecord:
        """Store an internal note."""

        def work(session: Session) -> NoteRecord:
            row = Note(conversation_id=conversation_id, agent_id=agent_id, text=text)
            session.add(row)
            session.flush()
            agent = session.get(Agent, agent_id)
            return NoteRecord(
                id=row.id,
                conversation_id=conversation_id,
                agent_id=agent_id,
                agent_name=agent.display_name if agent else "",
                text=text,
                created_at=aware(row.created_at),  # type: ignore[arg-type]
            )

        return await self._db.run(work)

    async def notes(self, conversation_id: str) -> list[NoteRecord]:
        """Return a conversation's internal notes, oldest first."""

        def work(session: Session) -> list[NoteRecord]:
            rows = session.execute(
                select(Note, Agent.display_name)
                .join(Agent, Agent.id == Note.agent_id)
                .where(Note.conversation_id == conversation_id)
                .order_by(Note.id)
            ).all()
            return [
                NoteRecord(
                    id=n.id,
                    conversation_id=n.conversation_id,
                    agent_id=n.agent_id,
                    agent_name=name,
                    text=n.text,
                    created_at=aware(n.created_at),  # type: ignore[arg-type]
                )
                for n, name in rows
            ]

        return await self._db.run(work)

    async def open_ticket(self, conversation_id: str, reason: str, order_id: str | None) -> int:
        """Open a ticket for an out-of-hours request; the next message fills it.

        Returns:
            The ticket id.
        """

        def work(session: Session) -> int:
            existing = session.execute(
                select(Ticket).where(
                    Ticket.conversation_id == conversation_id,
                    Ticket.status == "open",
                    Ticket.message_id.is_(None),
                )
            ).scalar_one_or_none()
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(awaiting_ticket=True, updated_at=utcnow())
            )
            if existing is not None:
                return int(existing.id)
            row = Ticket(conversation_id=conversation_id, reason=reason, order_id=order_id)
            session.add(row)
            session.flush()
            return int(row.id)

        return await self._db.run(work)

    async def fill_ticket(self, conversation_id: str, message_id: int) -> int | None:
        """Attach the customer's message to the waiting ticket.

        Returns:
            The ticket id, or None if no ticket was waiting for a message.
        """

        def work(session: Session) -> int | None:
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(awaiting_ticket=False)
            )
            row = session.execute(
                select(Ticket).where(
                    Ticket.conversation_id == conversation_id,
                    Ticket.status == "open",
                    Ticket.message_id.is_(None),
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            row.message_id = message_id
            return int(row.id)

        return await self._db.run(work)

    async def tickets(self, status: str = "open") -> list[TicketRecord]:
        """Return tickets with the left message, oldest first."""

        def work(session: Session) -> list[TicketRecord]:
            rows = session.execute(
                select(Ticket, Conversation, Message.text)
                .join(Conversation, Conversation.id == Ticket.conversation_id)
                .outerjoin(Message, Message.id == Ticket.message_id)
                .where(Ticket.status == status)
                .order_by(Ticket.created_at, Ticket.id)
            ).all()
            return [
                TicketRecord(
                    id=t.id,
                    conversation_id=t.conversation_id,
                    reason=t.reason,
                    order_id=t.order_id,
                    status=t.status,
                    text=text or "",
                    channel=c.channel,
                    customer_id=c.customer_id,
                    language=c.language,
                    created_at=aware(t.created_at),  # type: ignore[arg-type]
                )
                for t, c, text in rows
            ]

        return await self._db.run_in_thread(work)

    async def take_ticket(self, ticket_id: int, agent_id: int) -> str | None:
        """Close a ticket and give its conversation to the agent.

        Returns:
            The conversation id, or None if the ticket was not open.
        """

        def work(session: Session) -> str | None:
            now = utcnow()
            won = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == "open")
                .values(status="closed", closed_at=now, closed_by=agent_id)
            ).rowcount
            if not won:
                return None
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            conv_id = ticket.conversation_id
            open_row = _open_handoff(session, conv_id)
            moved = session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conv_id,
                    Conversation.state.in_(("bot", "resolved", "queued")),
                )
                .values(
                    state="agent",
                    assigned_agent_id=agent_id,
                    awaiting_ticket=False,
                    updated_at=now,
                )
            ).rowcount
            if moved:
                if open_row is not None and open_row.state == "queued":
                    open_row.state = "agent"
                    open_row.agent_id = agent_id
                    open_row.claimed_at = now
                else:
                    conv = session.get(Conversation, conv_id)
                    assert conv is not None
                    session.add(
                        Handoff(
                            conversation_id=conv_id,
                            reason=ticket.reason,
                            order_id=ticket.order_id,
                            state="agent",
                            channel=conv.channel,
                            language=conv.language,
                            agent_id=agent_id,
                            queued_at=ticket.created_at,
                            claimed_at=now,
                        )
                    )
            return conv_id

        return await self._db.run(work)


def waiting_seconds(entry: QueueEntry, now: datetime) -> int:
    """Seconds a queue entry has been waiting at ``now``."""
    return max(0, int((now - entry.handoff.queued_at).total_seconds()))
