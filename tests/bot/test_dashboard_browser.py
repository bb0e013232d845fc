"""Ratings and the supervisor dashboard in real headless Chromium (Debian's, never downloaded).

``test_widget_rating_round_trips_reach_the_dashboard``: a customer rates the bot (5) and,
after a handoff, the agent (2, with a comment) through the widget's buttons; the
dashboard then shows those figures, the low rating with its comment and a link that opens
the transcript in the inbox. ``test_dashboard_over_a_generated_history``: 30 days of
generated contacts; every headline figure on the page is the one the API returns, the
trend chart is drawn from the daily figures, problem topics are flagged.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.bot.browser_support import (
    Browser,
    Page,
    agent_login,
    chat,
    expect,
    launched_browser,
    needs_chromium,
    open_shop_as,
)
from tests.bot.fake_rasa import FakeRasa, FakeRasaServer
from tests.bot.gateway_harness import (
    PASSWORD,
    ROOT,
    GatewayProcess,
    start_gateway,
    stop_gateway,
)
from tests.bot.metrics_support import query

LAPTOP = {"width": 1366, "height": 768}

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasaServer()
    state = server.start()
    try:
        yield state
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shop_gateway(
    fake_rasa: FakeRasa, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    gateway = start_gateway(
        tmp_path_factory.mktemp("dash_live"), RASA_URL=fake_rasa.url, DEMO_MODE="1"
    )
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


@pytest.fixture(scope="module")
def history_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = start_gateway(tmp_path_factory.mktemp("dash_history"))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "demo-history",
                "--days",
                "60",
                "--contacts",
                "4000",
                "--seed",
                "11",
            ],
            cwd=ROOT,
            env={**os.environ, **gateway.env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        yield gateway
    finally:
        stop_gateway(gateway)


def dashboard_login(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/inbox/dashboard")
    expect(page.locator("[data-testid=dash-login]")).to_be_visible()
    page.locator("[data-testid=dash-login-username]").fill(username)
    page.locator("[data-testid=dash-login-password]").fill(PASSWORD)
    page.locator("[data-testid=dash-login-submit]").click()


def api_metrics(page: Page) -> dict[str, Any]:
    """The API's answer for the range the page shows, fetched with the page's session."""
    return page.evaluate(
        """async () => {
            const from = document.getElementById("from").value;
            const to = document.getElementById("to").value;
            const r = await fetch(`/api/v1/metrics?compare=1&from=${from}&to=${to}`);
            return await r.json();
        }"""
    )


def share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def test_widget_rating_round_trips_reach_the_dashboard(
    browser: Browser, shop_gateway: GatewayProcess
) -> None:
    base = shop_gateway.base_url
    customer_context = browser.new_context(viewport={"width": 390, "height": 760})
    staff_context = browser.new_context(viewport=LAPTOP)
    try:
        customer = customer_context.new_page()
        open_shop_as(customer, base, "C1001")
        messages = customer.locator("[data-testid=chat-messages]")
        quick = customer.locator("[data-testid=chat-quick-reply]")

        # 1. The bot serves a need, the customer says thanks and rates 5 with the buttons.
        chat(customer, "我的快递到哪了")
        expect(messages).to_contain_text("派送中")
        chat(customer, "谢谢")
        expect(messages).to_contain_text("请为本次服务打分")
        expect(quick).to_have_count(5)
        expect(quick.nth(4)).to_have_text("5 非常满意")
        expect(customer.locator("#shopchat-widget")).to_have_attribute("data-state", "resolved")
        quick.nth(4).click()
        expect(customer.locator(".row.customer").last).to_have_text(re.compile("5 非常满意"))
        expect(messages).to_contain_text("感谢您的评分")
        expect(quick).to_have_text(["跳过"])
        quick.first.click()
        expect(messages).to_contain_text("感谢您的评价")
        conversation_id = customer.evaluate("() => window.ShopChat.conversationId()")

        # 2. A person is asked for, the agent answers and resolves; the customer rates 2.
        chat(customer, "我要找人工")
        expect(customer.locator("#shopchat-widget")).to_have_attribute("data-state", "queued")
        agent = staff_context.new_page()
        agent_login(agent, base, "alice")
        item = agent.locator(f"[data-testid=queue-item][data-conversation-id='{conversation_id}']")
        item.click()
        agent.locator("[data-testid=claim-button]").click()
        agent.locator("[data-testid=reply-input]").fill("您好，我是王芳")
        agent.locator("[data-testid=reply-send]").click()
        expect(messages).to_contain_text("您好，我是王芳")
        agent.locator("[data-testid=resolve-button]").click()
        expect(messages).to_contain_text("本次人工服务已结束")
        expect(quick).to_have_count(5)
        quick.nth(1).click()
        expect(messages).to_contain_text("很抱歉这次没能让您满意")
        chat(customer, "等了好久才有人回")
        expect(customer.locator(".row", has_text="感谢您的评价")).to_have_count(2)

        rows = query(
            shop_gateway,
            "SELECT seq, outcome, rating, comment FROM contacts WHERE conversation_id = ? "
            "ORDER BY seq",
            conversation_id,
        )
        assert [(r["outcome"], r["rating"], r["comment"]) for r in rows] == [
            ("bot", 5, None),
            ("agent", 2, "等了好久才有人回"),
        ]

        # 3. The supervisor's dashboard shows them.
        agent.locator("[data-testid=logout]").click()
        # Wait until the logout went through, or the dashboard still sees the agent.
        expect(agent.locator("[data-testid=login-username]")).to_be_visible()
        dashboard_login(agent, base, "sue")
        expect(agent.locator("body")).to_have_attribute("data-loaded", "1")
        data = api_metrics(agent)
        assert data["contacts"] == 2 and data["csat"] == 0.5
        expect(agent.locator("[data-testid=kpi-contacts] [data-testid=kpi-value]")).to_have_text(
            "2"
        )
        expect(agent.locator("[data-testid=kpi-csat] [data-testid=kpi-value]")).to_have_text(
            "50.0%"
        )
        expect(agent.locator("[data-testid=kpi-containment] [data-testid=kpi-value]")).to_have_text(
            share(data["containment"])
        )
        low = agent.locator("[data-testid=low-rating]")
        expect(low).to_have_count(1)
        expect(low.locator("[data-testid=low-rating-comment]")).to_have_text("等了好久才有人回")
        low.locator("[data-testid=low-rating-link]").click()
        expect(agent.locator("[data-testid=conversation-view]")).to_have_attribute(
            "data-conversation-id", conversation_id
        )
        expect(agent.locator("[data-testid=transcript]")).to_contain_text("等了好久才有人回")
    finally:
        customer_context.close()
        staff_context.close()


def test_dashboard_over_a_generated_history(
    browser: Browser, history_gateway: GatewayProcess
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = context.new_page()
        dashboard_login(page, history_gateway.base_url, "sue")
        expect(page.locator("body")).to_have_attribute("data-loaded", "1")
        data = api_metrics(page)
        assert data["contacts"] > 1000

        # Every headline card carries the API's value and shows it formatted.
        for key in (
            "contacts",
            "csat",
            "fcr",
            "containment",
            "satisfied_containment",
            "handoff_rate",
            "csat_response_rate",
            "fallback_rate",
        ):
            card = page.locator(f"[data-testid=kpi-{key}]")
            assert float(card.get_attribute("data-value") or "nan") == pytest.approx(data[key])
            shown = card.locator("[data-testid=kpi-value]").inner_text()
            expected = f"{data[key]:,}" if key == "contacts" else share(data[key])
            assert shown == expected
            delta = card.locator("[data-testid=kpi-delta]").inner_text()
            assert delta.startswith(("▲", "▼")), (key, delta)

        # The trend chart: one bar per day with the day's contacts, CSAT and FCR lines.
        chart = page.locator("svg[data-testid=trend-chart]")
        bars = chart.locator("rect.bar")
        expect(bars).to_have_count(len(data["by_day"]))
        for day in (data["by_day"][0], data["by_day"][-1]):
            bar = chart.locator(f"rect.bar[data-day='{day['key']}']")
            assert int(bar.get_attribute("data-contacts") or -1) == day["contacts"]
            assert float(bar.get_attribute("height") or 0) > 0
        csat_line = chart.locator("path.csat-line")
        expect(csat_line).to_have_count(1)
        assert (csat_line.get_attribute("d") or "").startswith("M")
        assert int(csat_line.get_attribute("data-points") or 0) == sum(
            1 for d in data["by_day"] if d["csat"] is not None
        )
        expect(chart.locator("path.fcr-line.provisional")).to_have_count(1)
        expect(page.locator("#provisional")).to_contain_text("FCR")

        # Topics: every topic, the handoff-heavy one flagged.
        rows = page.locator("[data-testid=topic-row]")
        expect(rows).to_have_count(len(data["by_topic"]))
        problem = page.locator("[data-testid=topic-row][data-topic=problem_report]")
        expect(problem).to_have_class(re.compile("hot"))
        topic = next(t for t in data["by_topic"] if t["key"] == "problem_report")
        expect(problem.locator("[data-col=handoff_rate]")).to_have_text(
            share(topic["handoff_rate"])
        )
        expect(page.locator("[data-testid=handoff-reasons] .row")).to_have_count(
            len(data["handoff_reasons"])
        )
        expect(page.locator("[data-testid=low-rating]").first).to_be_visible()
        link = page.locator("[data-testid=low-rating-link]").first.get_attribute("href") or ""
        assert re.fullmatch(r"/inbox#conversation=[0-9a-f]{32}", link)

        # Readable on a laptop: nothing wider than the screen.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= LAPTOP["width"]

        # Another range reloads everything.
        page.locator("[data-days='7']").click()
        expect(bars).to_have_count(7)
        assert api_metrics(page)["from"] == page.locator("#from").input_value()
    finally:
        context.close()


def test_agents_cannot_open_the_dashboard(
    browser: Browser, history_gateway: GatewayProcess
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        dashboard_login(page, history_gateway.base_url, "alice")
        expect(page.locator("[data-testid=dash-forbidden]")).to_be_visible()
        expect(page.locator("[data-testid=dashboard-app]")).to_be_hidden()
    finally:
        context.close()
