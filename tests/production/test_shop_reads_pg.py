"""The shop repository on PostgreSQL: reads in autocommit (no BEGIN/ROLLBACK round trips),
and no pre-ping: a pooled connection killed by the server is replaced by a retry, for reads
and writes alike."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from actions.shop.db import build_engine, dispose_engines
from actions.shop.repository import ShopRepository
from actions.shop.seed import seed_if_missing
from deploy.stack import Services
from tests.production.sessions import end_other_sessions


@pytest.fixture(scope="module")
def shop_engine(prod_services: Services) -> Iterator[Engine]:
    engine = build_engine(prod_services.psql_url("shop"))
    seed_if_missing(engine)
    yield engine
    engine.dispose()
    dispose_engines()


_OWN_TRANSACTION = text(
    "SELECT xact_start = query_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
)


async def test_reads_run_in_autocommit_on_a_pool_of_their_own(shop_engine: Engine) -> None:
    repo = ShopRepository(shop_engine)
    assert repo._reader is not repo.engine
    assert ShopRepository(shop_engine)._reader is repo._reader  # one twin per database
    order = await repo.get_order("DD202611010001")
    assert order is not None and order.customer_id == "C1001"
    # In autocommit the statement is its own transaction; otherwise a BEGIN came first.
    with repo._reader.connect() as connection:
        assert connection.connection.dbapi_connection.autocommit is True
        assert connection.execute(_OWN_TRANSACTION).scalar_one() is True
    with repo.engine.connect() as connection:
        assert connection.connection.dbapi_connection.autocommit is False
        assert connection.execute(_OWN_TRANSACTION).scalar_one() is False


async def test_a_killed_connection_is_replaced_for_reads_and_writes(shop_engine: Engine) -> None:
    repo = ShopRepository(shop_engine)
    conversation = f"c-killed-{uuid.uuid4().hex[:8]}"
    before = await repo.get_order("DD202611010001")
    assert await repo.get_loyalty("C1001") is not None
    assert end_other_sessions(create_engine(shop_engine.url)) >= 1
    assert await repo.get_order("DD202611010001") == before  # read: retried once
    handoff = await repo.record_handoff(conversation, "C1001", None, "wants a person", "handoff")
    assert end_other_sessions(create_engine(shop_engine.url)) >= 1
    handoffs = await repo.list_handoffs(conversation)
    assert [h.id for h in handoffs] == [handoff.id]
    end_other_sessions(create_engine(shop_engine.url))
    again = await repo.record_handoff(conversation, "C1001", None, "again", "handoff")  # write
    assert [h.id for h in await repo.list_handoffs(conversation)] == [handoff.id, again.id]


async def test_work_runs_on_the_event_loop_on_postgresql(shop_engine: Engine) -> None:
    # No worker-thread hand-off per call: on this database it cost more than it overlapped.
    repo = ShopRepository(shop_engine)
    here = threading.get_ident()
    assert await repo._read(lambda _session: threading.get_ident()) == here
    assert await repo._run(lambda _session: threading.get_ident()) == here
