"""Engine and session handling for the shop database.

The URL comes from ``DATABASE_URL`` (default: a SQLite file in ``<project>/var/shop.db``).
Engines are cached per URL; sessions are short-lived, one per repository call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'shop.db'}"

T = TypeVar("T")
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url() -> str:
    """Returns ``DATABASE_URL`` or the default SQLite file URL."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """Turns on foreign-key enforcement, which SQLite leaves off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def build_engine(url: str) -> Engine:
    """Creates a new 2.0-style engine; for SQLite files also creates the parent folder."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Repository calls run in worker threads; each connection is used by one at a time.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
        if not database or database == ":memory:":
            # One shared connection, or every worker thread would see its own empty database.
            kwargs["poolclass"] = StaticPool
    # No pool_pre_ping (a `SELECT 1` round trip per call): a pooled connection that a
    # database restart killed fails its first statement, and `run_in_session` retries.
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """Returns the cached engine for ``url`` (default: :func:`database_url`)."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = build_engine(url)
        return engine


def reader_engine(engine: Engine) -> Engine:
    """The engine for read-only calls: on PostgreSQL, a twin in autocommit, built once.

    psycopg2 opens a transaction with its own `BEGIN` round trip and the session ends it
    with another; under READ COMMITTED each statement of a read sees its own snapshot
    either way. A separate pool, so that no connection switches modes (a `SET` each time).
    """
    if engine.dialect.name != "postgresql":
        return engine
    key = f"autocommit:{engine.url.render_as_string(hide_password=False)}"
    with _lock:
        reader = _engines.get(key)
        if reader is None:
            reader = _engines[key] = create_engine(
                engine.url, future=True, isolation_level="AUTOCOMMIT"
            )
        return reader


def dispose_engines() -> None:
    """Disposes and forgets every cached engine (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def run_in_session(engine: Engine, work: Callable[[Session], T]) -> T:
    """Runs ``work`` in one session and commits it; once more on a fresh connection if
    the first one was found dead (a database restart) before anything was committed.

    A commit that fails is not retried: it may have been applied.
    """
    for attempt in range(2):
        with Session(engine, future=True, expire_on_commit=False) as session:
            try:
                result = work(session)
            except DBAPIError as exc:
                session.rollback()
                if attempt == 0 and exc.connection_invalidated:
                    continue  # SQLAlchemy dropped the dead connections: the retry connects
                raise
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return result
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yields one session; commits on success, rolls back on error, always closes."""
    session = Session(engine or get_engine(), future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
