"""The production settings themselves: endpoints, stores shared by two servers, nginx."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from deploy.lock_store import FailoverRedisLockStore
from deploy.stack import ROOT, Services, free_port
from deploy.tracker_store import ResilientSQLTrackerStore
from tests.loop_watch import LoopWatch, watching_the_loop
from tests.production.sessions import end_other_sessions

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  order_id:
    type: text
    mappings: [{type: custom}]
"""
)


def endpoint_env(services: Services) -> dict[str, str]:
    """The variables endpoints.prod.yml needs, for the session's PostgreSQL and Redis."""
    return {
        **services.env,
        "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
        "REDIS_LOCK_DB": "1",
        "REDIS_LOCK_PREFIX": "shop",
    }


def read_prod_endpoints(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> AvailableEndpoints:
    """Reads endpoints.prod.yml the way `rasa run` does, with `env` set."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.prod.yml"))


def test_every_endpoint_value_comes_from_the_environment(
    prod_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = endpoint_env(prod_services)
    endpoints = read_prod_endpoints(monkeypatch, env)
    assert endpoints.action and endpoints.action.url == "http://127.0.0.1:1/webhook"
    tracker = endpoints.tracker_store
    assert tracker is not None
    assert tracker.type == "deploy.tracker_store.ResilientSQLTrackerStore"
    assert tracker.url == env["TRACKER_DB_HOST"]
    assert tracker.kwargs["dialect"] == "postgresql"
    assert int(tracker.kwargs["port"]) == prod_services.pg_port
    assert tracker.kwargs["password"] == env["TRACKER_DB_PASSWORD"]
    lock = endpoints.lock_store
    assert lock is not None and lock.type == "deploy.lock_store.FailoverRedisLockStore"
    assert int(lock.kwargs["port"]) == prod_services.redis_port
    # An unset variable stops Rasa rather than connecting somewhere unintended.
    monkeypatch.delenv("TRACKER_DB_PASSWORD")
    with pytest.raises(Exception, match="TRACKER_DB_PASSWORD"):
        AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.prod.yml"))


def test_two_servers_share_trackers_and_locks(
    prod_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two store instances (as in two `rasa run` processes) see the same conversations."""
    endpoints = read_prod_endpoints(monkeypatch, endpoint_env(prod_services))
    first = TrackerStore.create(endpoints.tracker_store, DOMAIN)
    second = TrackerStore.create(endpoints.tracker_store, DOMAIN)
    # (Rasa silently falls back to an in-memory store if a custom type does not import.)
    assert isinstance(first, ResilientSQLTrackerStore)
    assert isinstance(second, ResilientSQLTrackerStore)
    assert first.retry_seconds > 0  # a lost connection is retried, not pre-pinged
    sender = f"share-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update(UserUttered("hello", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("order_id", "DD202611010001"))
    asyncio.run(first.save(tracker))
    seen = asyncio.run(second.retrieve(sender))
    assert seen is not None and seen.get_slot("order_id") == "DD202611010001"
    assert [e.text for e in seen.events if isinstance(e, UserUttered)] == ["hello"]

    lock_a = LockStore.create(endpoints.lock_store)
    lock_b = LockStore.create(endpoints.lock_store)
    assert isinstance(lock_a, FailoverRedisLockStore)

    async def two_servers() -> list[str]:
        order: list[str] = []

        async def handle(store: LockStore, name: str, start: float, hold: float) -> None:
            await asyncio.sleep(start)
            async with store.lock(sender):
                order.append(f"{name} in")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        # b asks while a holds the conversation: the lock in Redis makes it wait.
        await asyncio.gather(handle(lock_a, "a", 0.0, 0.3), handle(lock_b, "b", 0.1, 0.0))
        return order

    assert asyncio.run(two_servers()) == ["a in", "a out", "b in", "b out"]
    assert not lock_a.degraded and not lock_b.degraded
    assert not lock_a.red.keys("*mutex*")  # given back, not left to expire


def test_tracker_reads_run_in_autocommit_and_survive_killed_connections(
    prod_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracker read is one statement on a connection in autocommit (no BEGIN/ROLLBACK
    round trips); its pool, killed by the server, is replaced by the store's retry."""
    endpoints = read_prod_endpoints(monkeypatch, endpoint_env(prod_services))
    store = TrackerStore.create(endpoints.tracker_store, DOMAIN)
    assert isinstance(store, ResilientSQLTrackerStore)
    sender = f"auto-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update(SlotSet("order_id", "DD202611010002"))
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve(sender)).get_slot("order_id") == "DD202611010002"
    with store._reader.connect() as connection:
        assert connection.connection.dbapi_connection.autocommit is True
    assert end_other_sessions(sa.create_engine(store.engine.url)) >= 1
    assert asyncio.run(store.retrieve(sender)).get_slot("order_id") == "DD202611010002"


def test_the_lock_store_waits_for_redis_without_blocking_the_server(
    prod_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Redis is slow to answer, the Rasa server's event loop goes on (other
    conversations are served): the lock's round trips are awaited, not blocking."""
    endpoints = read_prod_endpoints(monkeypatch, endpoint_env(prod_services))
    store = LockStore.create(endpoints.lock_store)
    assert isinstance(store, FailoverRedisLockStore)

    async def take_while_redis_pauses() -> LoopWatch:
        store.red.execute_command("CLIENT", "PAUSE", "300", "WRITE")  # holds back SET
        async with watching_the_loop() as watch:
            async with store.lock(f"paused-{uuid.uuid4().hex[:8]}"):
                pass
        return watch

    watch = asyncio.run(take_while_redis_pauses())
    assert watch.seconds >= 0.2 and not store.degraded  # it waited for Redis, got the lock
    assert watch.kept_running  # while the loop went on


def test_lock_store_keeps_going_without_redis() -> None:
    """Nothing listens on the port: locks fall back to memory instead of failing."""
    config = EndpointConfig(
        type="deploy.lock_store.FailoverRedisLockStore",
        url="127.0.0.1",
        port=str(free_port()),
        db="1",
        password="",
        key_prefix="shop",
        socket_timeout="0.5",
        retry_seconds="30",
    )
    store = LockStore.create(config)
    assert isinstance(store, FailoverRedisLockStore)

    async def two_messages() -> list[str]:
        order: list[str] = []

        async def handle(name: str, hold: float) -> None:
            async with store.lock("conv-1", wait_time_in_seconds=0.01):
                order.append(f"{name} in")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        await asyncio.gather(handle("a", 0.1), handle("b", 0.0))
        return order

    # Still serialised (in this process) while Redis is down.
    assert asyncio.run(two_messages()) == ["a in", "a out", "b in", "b out"]
    assert store.degraded
    assert store.fallback.get_lock("conv-1") is None  # the in-memory lock was given back


def test_load_balancer_config_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.skip("nginx is not installed (deploy/services.sh install)")
    env = {
        **os.environ,
        "NGINX_PREFIX": str(tmp_path),
        "GATEWAY_PORT": str(free_port()),
        "RASA_LB_PORT": str(free_port()),
        "RASA_UPSTREAMS": "127.0.0.1:15006 127.0.0.1:15007",
        "GATEWAY_UPSTREAMS": "127.0.0.1:18081 127.0.0.1:18082",
    }
    rendered = subprocess.run(
        ["bash", str(ROOT / "deploy" / "nginx_local.sh")],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    assert "server 127.0.0.1:15006" in rendered and "server 127.0.0.1:18082" in rendered
    (tmp_path / "nginx.conf").write_text(rendered)
    check = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", f"{tmp_path}/"],
        capture_output=True, text=True,
    )
    assert check.returncode == 0, check.stderr
