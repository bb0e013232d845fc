"""A queue change with several gateway instances (live pushes shared through real Redis):
each instance refreshes only the waiting customers connected to it, so an instance with
none reads nothing. Before, an instance sharing pushes read the whole queue on every
change and pushed every waiting customer's place to all instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Gateway
from bot.live_redis import RedisLiveHub
from deploy.stack import Services
from tests.bot.fake_rasa import FakeRasaServer
from tests.bot.test_message_cost import (
    QUEUE_READ,
    Cost,
    Meter,
    Tab,
    message,
    running_gateway,
)


@pytest.fixture
async def shared_gateway(prod_services: Services, tmp_path: Path) -> AsyncIterator[Gateway]:
    server = FakeRasaServer()
    rasa = server.start()
    redis = f"redis://127.0.0.1:{prod_services.redis_port}/0"
    try:
        async with running_gateway(tmp_path / "gateway.db", rasa.url, REDIS_URL=redis) as gateway:
            assert isinstance(gateway.hub, RedisLiveHub)
            await asyncio.wait_for(gateway.hub.subscribed.wait(), 10)
            yield gateway
    finally:
        server.stop()


async def test_a_queue_change_reads_the_queue_only_where_a_waiting_customer_is_connected(
    shared_gateway: Gateway,
) -> None:
    meter = Meter(shared_gateway.stores.db.engine)
    meter.cost, meter.on = Cost(), True
    handed = await shared_gateway.conversations.handle(message("转人工", "q1"))
    await shared_gateway.bus.join()
    await asyncio.sleep(0.5)  # the signal goes through Redis and comes back
    meter.on = False
    assert handed.conversation.state == "queued"
    assert not any(QUEUE_READ.search(s) for s in meter.cost.statements), meter.cost.statements

    tab = Tab()
    await shared_gateway.hub.add_customer(handed.conversation.id, tab)  # type: ignore[arg-type]
    meter.cost, meter.on = Cost(), True
    shared_gateway.hub.signal("queue")
    for _ in range(50):
        if tab.frames:
            break
        await asyncio.sleep(0.1)
    meter.on = False
    assert sum(1 for s in meter.cost.statements if QUEUE_READ.search(s)) == 1
    assert tab.frames[-1]["type"] == "state" and tab.frames[-1]["queue"]["position"] >= 1
