"""Agent accounts and their inbox sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database, aware
from bot.store.models import Agent, AgentSession, utcnow
from bot.store.records import AgentRecord

ROLES = ("agent", "supervisor")


class AgentExists(ValueError):
    """An account with that username already exists."""


class AgentStore:
    """Accounts (with password hashes) and sessions (keyed by token hash)."""

    def __init__(self, db: Database) -> None:
        """Keep the database.

        Args:
            db: The gateway database.
        """
        self._db = db

    def create_sync(
        self, username: str, display_name: str, role: str, password_hash: str
    ) -> AgentRecord:
        """Create an account (blocking; for the CLI and startup).

        Raises:
            AgentExists: if the username is taken.
            ValueError: for an unknown role.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")

        def work(session: Session) -> AgentRecord:
            row = Agent(
                username=username,
                display_name=display_name,
                role=role,
                password_hash=password_hash,
            )
            session.add(row)
            session.flush()
            return AgentRecord.of(row)

        try:
            return self._db.run_sync(work)
        except IntegrityError as exc:
            raise AgentExists(username) from exc

    def set_password_sync(self, username: str, password_hash: str) -> bool:
        """Replace an account's password hash (blocking).

        Returns:
            True if the account exists.
        """

        def work(session: Session) -> bool:
            return bool(
                session.execute(
                    update(Agent)
                    .where(Agent.username == username)
                    .values(password_hash=password_hash)
                ).rowcount
            )

        return self._db.run_sync(work)

    def exists_sync(self, username: str) -> bool:
        """Whether an account exists (blocking)."""

        def work(session: Session) -> bool:
            return (
                session.execute(select(Agent.id).where(Agent.username == username)).first()
                is not None
            )

        return self._db.run_sync(work)

    async def credentials(self, username: str) -> tuple[AgentRecord, str] | None:
        """Return an active account and its password hash, or None."""

        def work(session: Session) -> tuple[AgentRecord, str] | None:
            row = session.execute(
                select(Agent).where(Agent.username == username, Agent.active.is_(True))
            ).scalar_one_or_none()
            return (AgentRecord.of(row), row.password_hash) if row else None

        return await self._db.run(work)

    async def get(self, agent_id: int) -> AgentRecord | None:
        """Return one account or None."""

        def work(session: Session) -> AgentRecord | None:
            row = session.get(Agent, agent_id)
            return AgentRecord.of(row) if row else None

        return await self._db.run(work)

    async def all(self) -> list[AgentRecord]:
        """Return every active account."""

        def work(session: Session) -> list[AgentRecord]:
            rows = session.execute(
                select(Agent).where(Agent.active.is_(True)).order_by(Agent.username)
            ).scalars()
            return [AgentRecord.of(r) for r in rows]

        return await self._db.run(work)

    async def start_session(self, agent_id: int, token_hash: str, expires_at: datetime) -> None:
        """Store a new session."""

        def work(session: Session) -> None:
            session.add(
                AgentSession(token_hash=token_hash, agent_id=agent_id, expires_at=expires_at)
            )

        await self._db.run(work)

    async def session_agent(self, token_hash: str) -> AgentRecord | None:
        """Return the agent of a live session (and refresh its last-seen time)."""

        def work(session: Session) -> AgentRecord | None:
            row = session.execute(
                select(AgentSession, Agent)
                .join(Agent, Agent.id == AgentSession.agent_id)
                .where(AgentSession.token_hash == token_hash)
            ).first()
            if row is None:
                return None
            sess, agent = row
            now = utcnow()
            expires = aware(sess.expires_at)
            if not agent.active or expires is None or expires <= now:
                session.delete(sess)
                return None
            sess.last_seen_at = now
            return AgentRecord.of(agent)

        return await self._db.run(work)

    async def end_session(self, token_hash: str) -> None:
        """Delete a session (logout)."""

        def work(session: Session) -> None:
            session.execute(delete(AgentSession).where(AgentSession.token_hash == token_hash))

        await self._db.run(work)
