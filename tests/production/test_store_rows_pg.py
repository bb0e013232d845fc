"""The message path's Core statements over PostgreSQL (the scenarios of
tests/bot/test_store_rows.py): RETURNING of several message keys in one INSERT, and the
unique-constraint races that SQLite's write lock never lets happen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Stores
from deploy.stack import Services
from tests.bot.test_store_rows import core_records_match_orm, races_are_retried


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
