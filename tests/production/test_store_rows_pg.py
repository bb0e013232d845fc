"""The message path's Core statements over PostgreSQL (the scenarios of
tests/bot/test_store_rows.py): RETURNING of several message keys in one INSERT, and the
unique-constraint races that SQLite's write lock never lets happen; and where the units of
work run: short ones on the event loop, wide reads in a worker thread, a lost connection
retried without stalling the loop."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from bot.store import Stores
from bot.store.conversations import new_conversation_id
from deploy.stack import Services
from tests.bot.test_store_rows import core_records_match_orm, races_are_retried
from tests.loop_watch import watching_the_loop
from tests.production.sessions import end_other_sessions


@pytest.fixture
async def pg_stores(prod_services: Services) -> AsyncIterator[Stores]:
    stores = Stores.connect(prod_services.psql_url("gateway"))
    stores.db.create_schema()
    yield stores
    stores.db.dispose()


async def test_core_records_match_orm_on_postgresql(pg_stores: Stores) -> None:
    await core_records_match_orm(pg_stores)


async def test_races_are_retried_on_postgresql(pg_stores: Stores) -> None:
    await races_are_retried(pg_stores)


def _thread(_session: Session) -> int:
    return threading.get_ident()


async def test_short_work_runs_on_the_loop_and_wide_reads_in_a_thread(pg_stores: Stores) -> None:
    here = threading.get_ident()
    assert await pg_stores.db.run(_thread) == here
    assert await pg_stores.db.run_in_thread(_thread) != here
    threads: list[int] = []

    def note_thread(*_args: Any) -> None:
        threads.append(threading.get_ident())

    event.listen(pg_stores.db.engine, "before_cursor_execute", note_thread)
    try:
        await pg_stores.handoffs.queue()  # wide reads
        await pg_stores.conversations.transcript(new_conversation_id())
        wide = list(threads)
        await pg_stores.conversations.find("web", "nobody")  # a short one
    finally:
        event.remove(pg_stores.db.engine, "before_cursor_execute", note_thread)
    assert len(wide) >= 2 and here not in wide
    assert threads[len(wide):] and set(threads[len(wide):]) == {here}


async def test_a_lost_connection_is_retried_while_the_loop_goes_on(pg_stores: Stores) -> None:
    def backend(session: Session) -> int:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    first = await pg_stores.db.run(backend)
    assert end_other_sessions(create_engine(pg_stores.db.engine.url)) >= 1
    async with watching_the_loop() as watch:
        second = await pg_stores.db.run(backend)  # the pooled connection is dead: retried
    assert second != first
    assert watch.seconds >= 0.4  # it did back off (0.5 s before the second attempt)
    assert watch.kept_running  # and the loop went on meanwhile
