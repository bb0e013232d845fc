"""Fixtures for the gateway tests: the gateway as a real process on a free port.

``offline_gateway`` runs with Rasa's URL pointing at a closed port (the real situation
of Rasa being down: every message fails open to the queue). ``rasa_gateway`` runs
against the real Rasa and action servers of the session-wide ``rasa_stack`` fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.bot.gateway_harness import GatewayClient, GatewayProcess, start_gateway, stop_gateway


@pytest.fixture(scope="module")
def offline_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway whose Rasa URL points at a closed port, always within service hours."""
    gateway = start_gateway(tmp_path_factory.mktemp("gateway"))
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


@pytest.fixture(scope="session")
def rasa_gateway(
    rasa_stack: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A gateway in front of the real Rasa and action servers (demo mode on)."""
    gateway = start_gateway(
        tmp_path_factory.mktemp("gateway_rasa"),
        RASA_URL=rasa_stack.rasa_url,  # type: ignore[attr-defined]
        RASA_AUTH_TOKEN=rasa_stack.auth_token,  # type: ignore[attr-defined]
        DATABASE_URL=rasa_stack.database_url,  # type: ignore[attr-defined]
        RASA_TIMEOUT="30",
        DEMO_MODE="1",
    )
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


@pytest.fixture
async def client(offline_gateway: GatewayProcess) -> AsyncIterator[GatewayClient]:
    """A client of the offline gateway."""
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(offline_gateway, session)
