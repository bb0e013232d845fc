"""Ending a database's connections from the server side, as a PostgreSQL restart would."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine


def end_other_sessions(engine: Engine) -> int:
    """Terminates every other session of `engine`'s database, so that the pools of the
    stores under test go stale, then disposes of `engine` (pass one of its own); returns
    how many sessions were ended."""
    with engine.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return int(ended)
