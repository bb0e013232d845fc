"""Rasa's SQL tracker store, made to ride out a PostgreSQL restart or fail-over.

Rasa's `SQLTrackerStore` opens its engine without `pool_pre_ping` and does not retry. When
PostgreSQL restarts while a message is being processed, the final `save` fails, Rasa's
REST channel logs the error and still returns the replies it had collected: the customer
sees an answer whose turn is missing from the conversation's tracker (found by
tests/production/test_faults.py). This subclass retries reads and writes that failed
because the connection was lost or refused (a pooled connection to a restarted server
fails its first statement; SQLAlchemy then drops the whole pool), for up to
`retry_seconds` (default 15), waiting without blocking the event loop. A failed write has
not committed, so writing again stores each event once.

Used from `endpoints.prod.yml` as `type: deploy.tracker_store.ResilientSQLTrackerStore`
with the keys of Rasa's `type: SQL` store plus `retry_seconds`. With an event broker
configured, a retried `save` would publish its events again; the profile has none.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import bindparam, func, insert, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql import Executable

from deploy import wire_json

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_RETRY_SECONDS = 15.0


def _is_transient(exc: DBAPIError) -> bool:
    """A lost or refused connection, or a transaction the server rolled back."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


class ResilientSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with retried reads and writes."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        retry_seconds: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Connects like Rasa's SQL tracker store (same keys).

        Args:
            domain: The assistant's domain.
            host: The `url` of the endpoint (host name, or a full database URL).
            retry_seconds: How long a read or write is retried after a lost connection.
            **kwargs: dialect, port, db, username, password, login_db, query, ...
        """
        self.retry_seconds = float(retry_seconds or DEFAULT_RETRY_SECONDS)
        # sender id -> (a tracker this store read or saved, how many of its events are stored)
        self._stored: dict[str, tuple[weakref.ref[DialogueStateTracker], int]] = {}
        # senders whose latest read found nothing: the tracker Rasa creates next is new
        self._found_nothing: set[str] = set()
        super().__init__(domain=domain, host=host, **kwargs)
        self._insert_events, self._latest_session = self._statements()
        self._reader = self._autocommit_engine()

    def _autocommit_engine(self) -> Engine:
        """An engine for the one-statement read of a tracker, on PostgreSQL in autocommit.

        psycopg2 opens a transaction with its own `BEGIN` round trip before the first
        statement, and the pool ends it with a `ROLLBACK`: three round trips for one
        SELECT. Under READ COMMITTED a lone statement sees the same snapshot either way.
        A separate pool, so that no connection switches modes (which costs a `SET`).
        """
        url = self.engine.url
        if url.get_backend_name() != "postgresql":
            return self.engine
        return sa.create_engine(url, isolation_level="AUTOCOMMIT", **create_engine_kwargs(url))

    def _statements(self) -> tuple[Executable, Executable]:
        """The hot statements, built once: a statement object reused across calls keeps
        its compiled form and cache key (building them per call was most of the store's
        CPU), and they run on a plain connection, without an ORM session."""
        events = self.SQLEvent.__table__.c
        sender_id = bindparam("sender_id")
        session_start = (
            select(func.max(events.timestamp))
            .where(events.sender_id == sender_id, events.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        latest_session = (
            select(events.data)
            .where(
                events.sender_id == sender_id,
                or_(events.timestamp >= session_start, session_start.is_(None)),
            )
            .order_by(events.id)
        )
        return insert(self.SQLEvent.__table__), latest_session

    def _remember(self, tracker: DialogueStateTracker) -> None:
        """Notes that every event `tracker` holds now is stored."""
        sender_id = tracker.sender_id

        def forget(ref: weakref.ref[DialogueStateTracker]) -> None:
            entry = self._stored.get(sender_id)
            if entry is not None and entry[0] is ref:
                del self._stored[sender_id]

        self._stored[sender_id] = (weakref.ref(tracker, forget), len(tracker.events))

    def _known_unsaved(self, tracker: DialogueStateTracker) -> Iterator[Event] | None:
        """The tracker's events not stored yet, if this store knows how many are."""
        entry = self._stored.get(tracker.sender_id)
        if entry is not None and entry[0]() is tracker:
            return itertools.islice(tracker.events, entry[1], len(tracker.events))
        if tracker.sender_id in self._found_nothing:
            return iter(tracker.events)
        return None

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.25
        while True:
            try:
                return await call()
            except DBAPIError as exc:
                if not _is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                logger.warning(
                    "tracker store %s failed (%s); retrying in %.2fs",
                    what,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    @staticmethod
    def _row(sender_id: str, event: Event) -> dict[str, Any]:
        """The `events` row of an event, as Rasa's `SQLTrackerStore.save` writes it."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
            "action_name": data.get("name"),
            "data": wire_json.dumps(data),
        }

    def _unsaved_events(self, tracker: DialogueStateTracker) -> list[Event]:
        """The tracker's events not stored yet; Rasa's COUNT query finds them only for a
        tracker this store has not read or saved."""
        known = self._known_unsaved(tracker)
        if known is not None:
            return list(known)
        with self.session_scope() as session:
            return list(super()._additional_events(session, tracker))

    async def _save_once(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        rows = [self._row(tracker.sender_id, event) for event in self._unsaved_events(tracker)]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self._insert_events, rows)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's read of the latest session (the same rows, in id order) in Core SQL."""
        if fetch_events_from_all_sessions:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self._reader.connect() as connection:
            rows = connection.execute(self._latest_session, {"sender_id": sender_id})
            stored = [wire_json.loads(data) for (data,) in rows]
        if self.domain and stored:
            return DialogueStateTracker.from_dict(sender_id, stored, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the tracker's new events, retrying while the database is unreachable."""
        await self._retrying("save", lambda: self._save_once(tracker))
        self._found_nothing.discard(tracker.sender_id)
        self._remember(tracker)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """Reads the latest session, retrying while the database is unreachable."""
        tracker = await self._retrying(
            "read", lambda: SQLTrackerStore.retrieve(self, sender_id)
        )
        if tracker is None:
            if len(self._found_nothing) > 10_000:  # reads of ids never saved: stay bounded
                self._found_nothing.clear()
            self._found_nothing.add(sender_id)
        else:
            self._found_nothing.discard(sender_id)
            self._remember(tracker)
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Reads every session, retrying while the database is unreachable."""
        return await self._retrying(
            "read", lambda: SQLTrackerStore.retrieve_full_tracker(self, conversation_id)
        )
