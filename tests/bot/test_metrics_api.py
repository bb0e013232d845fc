"""The metrics API (auth, parameters, CSV), quiet contacts closing, and the CLI commands."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.bot.fake_rasa import FakeRasa, FakeRasaServer
from tests.bot.gateway_harness import (
    ROOT,
    GatewayClient,
    GatewayProcess,
    start_gateway,
    stop_gateway,
)
from tests.bot.metrics_support import (
    contacts_of,
    eventually,
    prompt_of,
    query,
    sender,
    supervisor_get,
)


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasaServer()
    state = server.start()
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(
    fake_rasa: FakeRasa, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Contacts close after 1.5 s of quiet (checked every 0.3 s)."""
    process = start_gateway(
        tmp_path_factory.mktemp("metrics_api"),
        RASA_URL=fake_rasa.url,
        CONTACT_INACTIVITY_MINUTES="0.025",
        CONTACT_SWEEP_SECONDS="0.3",
    )
    try:
        yield process
    finally:
        stop_gateway(process)


@pytest.fixture
async def client(gateway: GatewayProcess) -> AsyncIterator[GatewayClient]:
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(gateway, session)


async def test_metrics_need_a_supervisor(client: GatewayClient) -> None:
    for path in (
        "/api/v1/metrics",
        "/api/v1/metrics/export.csv",
        "/api/v1/metrics/low-ratings",
    ):
        status, body = await supervisor_get(client, path, None)
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = await supervisor_get(client, path, "not-a-session")
        assert status == 401
        status, body = await supervisor_get(client, path, await client.login("alice"))
        assert status == 403 and body["error"]["code"] == "forbidden"
        status, _ = await supervisor_get(client, path, await client.login("sue"))
        assert status == 200


@pytest.mark.parametrize(
    "query_string",
    [
        "from=2026-13-01",
        "from=yesterday",
        "from=2026-03-10&to=2026-03-01",
        "from=2024-01-01&to=2026-01-01",
        "fcr_days=0",
        "fcr_days=31",
        "fcr_days=abc",
        "agent=bob",
        "metrics=csat,scope_for_csat",
    ],
)
async def test_bad_parameters_are_400(client: GatewayClient, query_string: str) -> None:
    status, body = await supervisor_get(
        client, f"/api/v1/metrics?{query_string}", await client.login("sue")
    )
    assert status == 400 and body["error"]["code"] == "bad_request"
    assert query_string not in body["error"]["message"]  # never echoes the request


async def test_answer_shape_and_csv(client: GatewayClient) -> None:
    sue = await client.login("sue")
    status, body = await supervisor_get(
        client, "/api/v1/metrics?from=2026-03-01&to=2026-03-07&compare=1", sue
    )
    assert status == 200
    for key in ("contacts", "csat", "fcr", "containment", "handoff_rate"):
        assert key in body
    assert [d["key"] for d in body["by_day"]] == [f"2026-03-0{i}" for i in range(1, 8)]
    assert body["by_topic"] == [] and body["by_channel"] == []
    assert body["previous"]["from"] == "2026-02-22"
    async with client.session.get(
        f"{client.gateway.base_url}/api/v1/metrics/export.csv?from=2026-03-01&to=2026-03-02",
        headers={"Authorization": f"Bearer {sue}"},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "metrics-2026-03-01-2026-03-02.csv" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:4] == ["slice", "key", "contacts", "csat"]
    assert rows[1][:2] == ["total", "2026-03-01..2026-03-02"]
    assert [r[1] for r in rows if r[0] == "day"] == ["2026-03-01", "2026-03-02"]


async def test_the_dashboard_page_is_served_with_a_strict_policy(client: GatewayClient) -> None:
    async with client.session.get(f"{client.gateway.base_url}/inbox/dashboard") as response:
        assert response.status == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert 'src="/static/dashboard.js"' in await response.text()


async def test_quiet_contacts_close_by_outcome(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    served, greeted, in_form = sender(), sender(), sender()
    _, a = await client.send(served, "我的快递到哪了")
    _, b = await client.send(greeted, "你好")
    _, c = await client.send(in_form, "我要退货")  # the bot opens a form and gets no answer

    def closed(conversation_id: str) -> dict | None:
        rows = contacts_of(gateway, conversation_id)
        return rows[0] if rows and rows[0]["state"] == "closed" else None

    served_contact = await eventually(lambda: closed(str(a["conversation_id"])))
    assert (served_contact["outcome"], served_contact["resolution"]) == ("bot", "inactivity")
    await prompt_of(client, served)  # resolved by the bot: asked for a rating
    greeted_contact = await eventually(lambda: closed(str(b["conversation_id"])))
    assert greeted_contact["outcome"] == "abandoned"
    assert (await eventually(lambda: closed(str(c["conversation_id"]))))["outcome"] == "abandoned"
    assert greeted_contact["survey_state"] == "none"  # nothing served: nobody is asked
    history = await client.history(greeted)
    assert history["state"] == "resolved"
    assert not any(m.get("buttons") for m in history["messages"])
    _, again = await client.send(greeted, "你好")  # a new contact
    assert again["state"] == "bot"
    rows = await eventually(
        lambda: (r := contacts_of(gateway, str(b["conversation_id"]))) and len(r) == 2 and r
    )
    assert rows[1]["seq"] == 2


async def test_a_handed_off_contact_is_not_closed_by_quiet(
    client: GatewayClient, gateway: GatewayProcess
) -> None:
    who = sender()
    _, body = await client.send(who, "转人工")
    assert body["state"] == "queued"
    await eventually(lambda: contacts_of(gateway, str(body["conversation_id"])))
    import asyncio

    await asyncio.sleep(2.5)
    (contact,) = contacts_of(gateway, str(body["conversation_id"]))
    assert contact["state"] == "open" and contact["handed_off"] == 1
    assert (
        query(gateway, "SELECT state FROM conversations WHERE id = ?", body["conversation_id"])[0][
            "state"
        ]
        == "queued"
    )


def run_cli(env_db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GATEWAY_DATABASE_URL": env_db},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_history_is_deterministic_and_reported_by_the_cli(tmp_path: Path) -> None:
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    for url in (first, second):
        done = run_cli(
            url, "demo-history", "--days", "30", "--contacts", "1500", "--end", "2026-03-31"
        )
        assert done.returncode == 0, done.stderr
        assert "generated 1500 contacts" in done.stdout
    again = run_cli(
        first, "demo-history", "--days", "30", "--contacts", "10", "--end", "2026-03-31"
    )
    assert again.returncode == 1 and "seed 7" in again.stderr  # no silent double history

    reports = []
    for url in (first, second):
        out = tmp_path / f"{len(reports)}.csv"
        done = run_cli(
            url, "metrics", "--from", "2026-03-01", "--to", "2026-03-31", "--csv", str(out)
        )
        assert done.returncode == 0, done.stderr
        assert "contacts" in done.stdout and "order_tracking" in done.stdout
        reports.append(out.read_text(encoding="utf-8"))
    assert reports[0] == reports[1]  # same seed and end: the same history
    rows = list(csv.DictReader(io.StringIO(reports[0])))
    total = rows[0]
    assert total["slice"] == "total" and int(total["contacts"]) == 1500
    assert 0.4 < float(total["csat"]) < 0.95 and 0.5 < float(total["fcr"]) < 1.0
    assert float(total["repeated"]) > 0 and float(total["handed_off"]) > 0
    assert sum(int(r["contacts"]) for r in rows if r["slice"] == "day") == 1500
    assert {r["key"] for r in rows if r["slice"] == "channel"} == {"web", "wechat", "wecom"}
    bad = run_cli(first, "metrics", "--from", "2026-03-31", "--to", "2026-03-01")
    assert bad.returncode == 2
