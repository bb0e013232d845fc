"""What the WeChat channels keep in the gateway database.

``channel_cursors`` holds WeCom's ``sync_msg`` cursor per customer-service account, so a
restarted gateway reads on from where it stopped instead of from three days back. The
48-hour window of WeChat's customer-service APIs is computed from the customer's last
stored message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, func, select
from sqlalchemy.orm import Session

from bot.store.db import Database, aware
from bot.store.models import Base, Message, utcnow


class ChannelCursor(Base):
    """The read position of a pulled channel (WeCom ``sync_msg``)."""

    __tablename__ = "channel_cursors"

    name = Column(String(128), primary_key=True)
    cursor = Column(String(256), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class WeChatStore:
    """Cursor and window reads and writes; each call is one transaction."""

    def __init__(self, db: Database) -> None:
        """Keep the database.

        Args:
            db: The gateway database.
        """
        self._db = db

    async def cursor(self, name: str) -> str | None:
        """Return the saved cursor of ``name``, or None."""

        def work(session: Session) -> str | None:
            row = session.get(ChannelCursor, name)
            return row.cursor if row else None

        return await self._db.run(work)

    async def cursor_names(self, prefix: str) -> list[str]:
        """Return the names of saved cursors that start with ``prefix``."""

        def work(session: Session) -> list[str]:
            rows = session.execute(
                select(ChannelCursor.name).where(ChannelCursor.name.like(f"{prefix}%"))
            ).scalars()
            return list(rows)

        return await self._db.run(work)

    async def save_cursor(self, name: str, cursor: str) -> None:
        """Remember ``cursor`` as the read position of ``name``."""

        def work(session: Session) -> None:
            row = session.get(ChannelCursor, name)
            if row is None:
                session.add(ChannelCursor(name=name, cursor=cursor, updated_at=utcnow()))
            else:
                row.cursor = cursor
                row.updated_at = utcnow()

        await self._db.run(work)

    async def last_customer_message_at(self, conversation_id: str) -> datetime | None:
        """When the customer last wrote in a conversation, or None."""

        def work(session: Session) -> datetime | None:
            return session.execute(
                select(func.max(Message.created_at)).where(
                    Message.conversation_id == conversation_id,
                    Message.author == "customer",
                )
            ).scalar_one_or_none()

        return aware(await self._db.run(work))
