"""Engine setup and the one way the gateway touches its database.

Every call runs a unit of work in its own session, committed on success and rolled back
on error. On a server database (PostgreSQL) the short units of the message path run on
the event loop itself: each is a few index-backed statements, and handing it to a worker
thread and back cost more than the round trips it overlapped (~2 ms of CPU per turn,
docs/performance.md, change 37). Reads whose size grows with the shop or the conversation
(reports, the queue, inbox lists, transcripts, sweeps) use `run_in_thread`, so they never
stall the instance's other conversations. SQLite runs everything in worker threads: its
writer lock may be waited for (busy timeout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Base

T = TypeVar("T")
logger = logging.getLogger(__name__)

# A lost connection is retried for about 15 s in all: long enough for PostgreSQL to
# restart or fail over, short enough that the caller still answers the customer.
RETRY_ATTEMPTS = 6
RETRY_FIRST_DELAY = 0.5


def aware(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (SQLite drops the zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def make_engine(database_url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and write-locking BEGINs.

    Args:
        database_url: SQLAlchemy URL of the gateway database.

    Returns:
        A 2.0-style engine.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # No pre-ping (a round trip per transaction, ~13 per message): a connection lost
        # to a database restart fails its statement and `run_sync` retries on a new one.
        return create_engine(url, future=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=True,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that BEGIN IMMEDIATE is used:
        # a transaction that reads and then writes can then never fail on lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """Owns the engine and runs unit-of-work functions off the event loop."""

    def __init__(self, database_url: str) -> None:
        """Create the engine (no connection is opened yet).

        Args:
            database_url: SQLAlchemy URL of the gateway database.
        """
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        # A server database: its short units run on the event loop and a lost connection is
        # retried. SQLite waits for its lock by itself (busy timeout), in worker threads.
        self._server = self.engine.dialect.name != "sqlite"

    def create_schema(self) -> None:
        """Create missing tables (blocking; call at startup or from the CLI)."""
        Base.metadata.create_all(self.engine)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a new session and commit it (blocking).

        Args:
            work: Function receiving the session; its return value is passed on.

        Returns:
            Whatever ``work`` returned.
        """
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return self._attempt(work)
            except DBAPIError as exc:
                time.sleep(self._retry_delay(exc, attempt))
        raise AssertionError("unreachable")

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run a short unit of work (a few index-backed statements) with its own committed
        session: on the event loop for a server database, else in a worker thread.

        Args:
            work: Function receiving the session; must return plain data, not rows
                bound to the session.

        Returns:
            Whatever ``work`` returned.
        """
        if not self._server:
            return await asyncio.to_thread(self.run_sync, work)
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return self._attempt(work)
            except DBAPIError as exc:
                await asyncio.sleep(self._retry_delay(exc, attempt))  # the loop goes on
        raise AssertionError("unreachable")

    async def run_in_thread(self, work: Callable[[Session], T]) -> T:
        """Like `run`, always in a worker thread: for reads whose size grows with the shop
        or the conversation (the queue, lists, transcripts, sweeps), which must not stall
        the event loop."""
        return await asyncio.to_thread(self.run_sync, work)

    def _attempt(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            with session.begin():
                return work(session)

    def _retry_delay(self, exc: DBAPIError, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``; re-raises ``exc`` when it is not
        worth retrying.

        Only a lost or refused connection (the database restarting or failing over) and a
        rolled-back transaction are retried: nothing was committed, so running the whole
        unit of work again stores nothing twice.
        """
        retry = self._server and (exc.connection_invalidated or isinstance(exc, OperationalError))
        if not retry or attempt == RETRY_ATTEMPTS:
            raise exc
        delay = min(RETRY_FIRST_DELAY * 2 ** (attempt - 1), 4.0)
        logger.warning(
            "database connection lost (attempt %d/%d); retrying in %.1fs",
            attempt,
            RETRY_ATTEMPTS,
            delay,
        )
        return delay

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
