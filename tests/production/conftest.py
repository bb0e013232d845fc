"""The production profile for the fault tests: real PostgreSQL and Redis (Debian packages,
started here on free ports in a temp folder), two Rasa servers sharing the SQL tracker store
and the Redis lock store, the action server and the gateway, all from scripts/run_prod.sh.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from deploy.stack import (
    Profile,
    Services,
    ServicesUnavailable,
    start_profile,
    start_services,
)
from tests.production.customers import TOKEN_SECRET


@pytest.fixture(scope="session")
def prod_services() -> Iterator[Services]:
    """PostgreSQL and Redis for this test session (installed from Debian if missing)."""
    try:
        services = start_services()
    except ServicesUnavailable as exc:
        pytest.fail(f"PostgreSQL/Redis could not be installed or started: {exc}")
    try:
        yield services
    finally:
        services.stop()
        shutil.rmtree(services.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def prod_model(request: pytest.FixtureRequest) -> str:
    """The trained model for the current inputs (tests/conftest.py's `trained_model`), or
    the model named by PROD_TEST_MODEL (to iterate on these tests while the data changes)."""
    return os.environ.get("PROD_TEST_MODEL") or str(request.getfixturevalue("trained_model"))


@pytest.fixture(scope="module")
def profile(
    prod_services: Services, prod_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Profile]:
    """Two Rasa servers, one action server, two gateways on PostgreSQL and Redis."""
    work: Path = tmp_path_factory.mktemp("prod")
    running = start_profile(
        prod_services,
        work,
        rasa_replicas=2,
        gateway_replicas=2,
        model=prod_model,
        extra_env={
            "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
            "AGENT_SESSION_SECRET": "prod-test-agent-session-secret",
            "SERVICE_HOURS": "00:00-24:00",
            "RESTART_DELAY": "3",
            "RASA_TIMEOUT": "30",
        },
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session (generous connection limit: many customers at once)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        yield session
