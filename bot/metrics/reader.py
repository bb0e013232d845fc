"""Report queries on their own connections, so a long report never stalls the gateway.

Every gateway transaction on SQLite starts with ``BEGIN IMMEDIATE`` (it takes the write
lock at once, see ``bot/store/db.py``). A report reads for up to a few seconds over a big
history; under that lock every customer message would wait. Reports therefore run on a
separate engine whose transactions are plain deferred ``BEGIN``s on read-only
connections: in WAL mode a reader sees one snapshot and never blocks the writer. Such a
connection also gets a larger page cache and memory-mapped reads. Other databases
(PostgreSQL) share the gateway's engine: their reads never block writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import Database

T = TypeVar("T")

READER_CACHE_KIB = 65536
READER_MMAP_BYTES = 256 * 1024 * 1024


def _reader_engine(db: Database) -> Engine:
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return db.engine
    engine = create_engine(
        url, future=True, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock

    return engine


class ReportReader:
    """Runs read-only report work off the event loop, without the write lock."""

    def __init__(self, db: Database) -> None:
        """Create the reading engine (no connection is opened yet).

        Args:
            db: The gateway database (its URL; its engine on non-SQLite databases).
        """
        self._db = db
        self.engine = _reader_engine(db)
        self._sessions = sessionmaker(self.engine, future=True)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one read transaction (blocking)."""
        with self._sessions() as session:
            with session.begin():
                return work(session)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a worker thread."""
        return await asyncio.to_thread(self.run_sync, work)

    def dispose(self) -> None:
        """Close the reading connections (not the gateway's)."""
        if self.engine is not self._db.engine:
            self.engine.dispose()
