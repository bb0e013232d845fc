"""Helpers for the SQLAlchemy Core statements of the message path.

The stores' hot path (``ConversationStore.receive`` / ``answer`` and the contact
bookkeeping of a bot turn) runs statements built once at import time on the session's
connection: a statement object reused across calls memoizes its cache key, so a call
only binds parameters, without the ORM's statement construction, execution layer and
unit of work (which made up most of the database thread's half of a gateway's CPU
under load). These helpers keep the ORM's semantics: the same column values on
INSERT, only the changed columns on UPDATE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable


def new_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every column of a row about to be inserted, as the ORM would write it.

    Columns missing from ``values`` get their scalar Python default, else None; callable
    defaults (timestamps) must be in ``values``, since the caller needs to know them. A
    primary key missing from ``values`` is left out (the database generates it).
    """
    return {**_template(table), **values}


@cache
def _template(table: Table) -> Mapping[str, Any]:
    return MappingProxyType(
        {
            column.key: column.default.arg
            if column.default is not None and column.default.is_scalar
            else None
            for column in table.columns
            if not column.primary_key
        }
    )


def write_changes(
    conn: Connection, stmt: Executable, row: dict[str, Any], values: Mapping[str, Any]
) -> None:
    """Write the ``values`` that differ from ``row``'s (what the ORM's flush would write,
    nothing if none does) and apply them to ``row``.

    Args:
        conn: The transaction's connection.
        stmt: An UPDATE without ``.values()`` whose WHERE binds the row's ``id`` as
            ``b_id`` (it sets the columns named in the parameters).
        row: The row as read or inserted (all columns by name).
        values: New values by column name.
    """
    changes = {key: value for key, value in values.items() if row[key] != value}
    if changes:
        conn.execute(stmt, {"b_id": row["id"], **changes})
        row.update(changes)


def insert_ids(conn: Connection, stmt: Executable, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows`` with ``stmt`` (an INSERT with ``return_defaults`` of its key) in
    order; return their new ids.

    Several rows are one statement where the driver can return their keys from one
    (psycopg2: INSERT .. VALUES (..), (..) RETURNING id, as the ORM does); elsewhere
    (SQLite: the cursor's lastrowid) each is its own INSERT.
    """
    if len(rows) > 1 and conn.dialect.insert_executemany_returning:
        result = conn.execute(stmt, list(rows))
        return [key[0] for key in result.inserted_primary_key_rows]
    return [conn.execute(stmt, row).inserted_primary_key[0] for row in rows]


def column_values(obj: Any) -> dict[str, Any]:
    """An ORM object's column values by column name, as a Core row maps them."""
    return {column.key: getattr(obj, column.key) for column in obj.__table__.columns}
