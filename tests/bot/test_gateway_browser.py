"""The whole handoff round trip in real headless Chromium (Debian's, never downloaded).

A customer chats in the widget on the demo shop page, asks for a person, an agent logs
in to the inbox in a second browser context, claims, sees the handoff card, replies; the
reply appears live in the widget; the agent resolves and the bot takes over again.

``test_handoff_round_trip_when_rasa_is_down`` needs no model (Rasa is down, so the
request fails open to the queue); ``test_handoff_round_trip_with_the_real_bot`` (slow)
runs against the real Rasa and action servers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
from tests.bot.gateway_harness import (
    GatewayProcess,
    restart_gateway,
    start_gateway,
    stop_gateway,
)

XSS = '<img src=x onerror="window.__xss=1">'

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """Rasa down, demo mode on (the demo page can sign in demo customers)."""
    gateway = start_gateway(tmp_path_factory.mktemp("browser"), DEMO_MODE="1")
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


def claim_and_reply(agent: Page, conversation_id: str, reply: str) -> None:
    item = agent.locator(f"[data-testid=queue-item][data-conversation-id='{conversation_id}']")
    expect(item).to_be_visible()
    item.click()
    expect(agent.locator("[data-testid=conversation-view]")).to_have_attribute(
        "data-conversation-id", conversation_id
    )
    agent.locator("[data-testid=claim-button]").click()
    expect(agent.locator("[data-testid=conversation-state]")).to_have_text(
        re.compile("人工处理中|with agent")
    )
    agent.locator("[data-testid=reply-input]").fill(reply)
    agent.locator("[data-testid=reply-send]").click()


def test_customer_picked_before_the_widget_loads_keeps_the_token(
    browser: Browser, demo_gateway: GatewayProcess
) -> None:
    """The token can arrive before widget.js has run; it must not be dropped (this race
    failed CI once: the widget came up anonymous)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        held: list = []
        page.route("**/widget.js", lambda route: held.append(route))
        page.goto(demo_gateway.base_url + "/")
        page.wait_for_function("() => document.querySelector('script[src=\"/widget.js\"]')")
        with page.expect_response(re.compile(r"/demo/token\?customer=C1001")):
            page.locator("[data-testid=demo-customer]").select_option("C1001")
        assert page.evaluate("() => window.ShopChat") is None  # the widget is still held
        for route in held:
            route.continue_()
        page.wait_for_function("() => window.ShopChat && window.ShopChat.hasCustomerToken()")
    finally:
        context.close()


def test_handoff_round_trip_when_rasa_is_down(
    browser: Browser, demo_gateway: GatewayProcess
) -> None:
    base = demo_gateway.base_url
    customer_context = browser.new_context(viewport={"width": 390, "height": 760})  # phone
    agent_context = browser.new_context()
    try:
        customer = customer_context.new_page()
        open_shop_as(customer, base, "C1001")
        chat(customer, "人工客服")
        messages = customer.locator("[data-testid=chat-messages]")
        expect(messages).to_contain_text("抱歉")
        expect(customer.locator("[data-testid=chat-status]")).to_contain_text("第 1 位")
        expect(customer.locator("[data-testid=chat-quick-reply]")).to_have_text("取消人工服务")
        conversation_id = customer.evaluate("() => window.ShopChat.conversationId()")
        assert conversation_id

        agent = agent_context.new_page()
        agent_login(agent, base, "alice")
        item = agent.locator(f"[data-testid=queue-item][data-conversation-id='{conversation_id}']")
        expect(item).to_contain_text("机器人故障")
        expect(item).to_contain_text("C1001")
        claim_and_reply(agent, conversation_id, "您好，我是王芳，请问有什么可以帮您？")

        card = agent.locator("[data-testid=handoff-card]")
        expect(card.locator("[data-testid=card-customer]")).to_contain_text("张伟")
        expect(card.locator("[data-testid=card-identity]")).to_contain_text("已验证")
        expect(card.locator("[data-testid=card-language]")).to_have_text("zh")
        expect(card.locator("[data-testid=card-reason]")).to_contain_text("机器人故障")

        # The agent's reply arrives live in the widget, with the agent's name.
        expect(messages).to_contain_text("您好，我是王芳，请问有什么可以帮您？")
        expect(customer.locator("[data-testid=chat-status]")).to_contain_text("王芳")

        # The customer answers with HTML: both sides show it as text, nothing runs.
        chat(customer, XSS)
        transcript = agent.locator("[data-testid=transcript]")
        expect(transcript).to_contain_text(XSS)
        expect(messages).to_contain_text(XSS)
        assert customer.evaluate("() => window.__xss") is None
        assert agent.evaluate("() => window.__xss") is None

        agent.locator("[data-testid=note-input]").fill("老客户，耳机问题")
        agent.locator("[data-testid=note-add]").click()
        expect(agent.locator("[data-testid=notes-list]")).to_contain_text("老客户")

        # History survives a reload (conversation id and sender kept in localStorage).
        customer.reload()
        customer.locator("[data-testid=chat-launcher]").click()
        expect(messages).to_contain_text("您好，我是王芳，请问有什么可以帮您？")
        expect(messages).to_contain_text(XSS)
        assert customer.evaluate("() => window.ShopChat.conversationId()") == conversation_id

        agent.locator("[data-testid=resolve-button]").click()
        expect(agent.locator("[data-testid=conversation-state]")).to_have_text(
            re.compile("已解决|resolved")
        )
        expect(messages).to_contain_text("本次人工服务已结束")
        expect(customer.locator("#shopchat-widget")).to_have_attribute("data-state", "resolved")
    finally:
        customer_context.close()
        agent_context.close()


def test_widget_survives_a_dropped_connection(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    gateway = start_gateway(tmp_path_factory.mktemp("restart"), DEMO_MODE="1")
    context = browser.new_context()
    try:
        page = context.new_page()
        open_shop_as(page, gateway.base_url, "")
        widget = page.locator("#shopchat-widget")
        messages = page.locator("[data-testid=chat-messages]")
        chat(page, "你好")
        expect(messages).to_contain_text("抱歉")

        stop_gateway(gateway)  # the connection really drops
        expect(widget).to_have_attribute("data-connected", "0")
        expect(page.locator("[data-testid=chat-status]")).to_contain_text("重新连接")
        chat(page, "还在吗")  # typed while offline: kept in the outbox
        expect(page.locator(".row.customer.pending")).to_have_count(1)

        restart_gateway(gateway)
        expect(widget).to_have_attribute("data-connected", "1", timeout=30_000)
        expect(page.locator(".row.customer.pending")).to_have_count(0)
        expect(messages).to_contain_text("暂时无法回答")
        history = page.evaluate(
            """async () => {
                const key = Object.keys(localStorage).find(k => k.startsWith("shopchat:"));
                const sender = JSON.parse(localStorage.getItem(key)).sender;
                const r = await fetch("/api/v1/history", {method: "POST",
                    body: JSON.stringify({channel: "web", sender})});
                return (await r.json()).messages;
            }"""
        )
        sent = [m["text"] for m in history if m["author"] == "customer"]
        assert sent == ["你好", "还在吗"]  # nothing lost, nothing twice
    finally:
        context.close()
        stop_gateway(gateway)


def test_widget_switches_language_and_customer(
    browser: Browser, demo_gateway: GatewayProcess
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        open_shop_as(page, demo_gateway.base_url, "C1003")
        page.locator("[data-testid=chat-lang]").click()
        expect(page.locator("[data-testid=chat-send]")).to_have_text("Send")
        chat(page, "I want to talk to a person")
        expect(page.locator("[data-testid=chat-messages]")).to_contain_text("Sorry")
        first = page.evaluate("() => window.ShopChat.conversationId()")
        # Another customer on the same browser never sees the first one's chat.
        page.locator("[data-testid=demo-customer]").select_option("C1002")
        expect(page.locator("[data-testid=chat-messages]")).not_to_contain_text("Sorry")
        chat(page, "你好")
        expect(page.locator("[data-testid=chat-messages]")).to_contain_text("抱歉")
        assert page.evaluate("() => window.ShopChat.conversationId()") != first
    finally:
        context.close()


def test_inbox_refuses_wrong_password(browser: Browser, demo_gateway: GatewayProcess) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(demo_gateway.base_url + "/inbox")
        page.locator("[data-testid=login-username]").fill("alice")
        page.locator("[data-testid=login-password]").fill("not-the-password")
        page.locator("[data-testid=login-submit]").click()
        expect(page.locator("[data-testid=login-error]")).to_have_text(
            re.compile("用户名或密码错误|Wrong")
        )
        expect(page.locator("[data-testid=inbox-app]")).to_be_hidden()
    finally:
        context.close()


@pytest.mark.slow
def test_handoff_round_trip_with_the_real_bot(
    browser: Browser, rasa_gateway: GatewayProcess
) -> None:
    base = rasa_gateway.base_url
    customer_context = browser.new_context()
    agent_context = browser.new_context()
    try:
        customer = customer_context.new_page()
        open_shop_as(customer, base, "C1001")
        messages = customer.locator("[data-testid=chat-messages]")
        chat(customer, "你好")
        expect(customer.locator(".row.bot").nth(0)).to_be_visible(timeout=30_000)
        chat(customer, "人工客服")
        expect(customer.locator("#shopchat-widget")).to_have_attribute(
            "data-state", "queued", timeout=30_000
        )
        conversation_id = customer.evaluate("() => window.ShopChat.conversationId()")

        agent = agent_context.new_page()
        agent_login(agent, base, "alice")
        claim_and_reply(agent, conversation_id, "您好，我是王芳")
        card = agent.locator("[data-testid=handoff-card]")
        expect(card.locator("[data-testid=card-reason]")).to_contain_text("客户要求人工")
        expect(card.locator("[data-testid=card-intent]")).to_have_text("human_agent")
        expect(card.locator("[data-testid=card-customer]")).to_contain_text("张伟")
        expect(messages).to_contain_text("您好，我是王芳")

        agent.locator("[data-testid=resolve-button]").click()
        expect(messages).to_contain_text("本次人工服务已结束")
        bot_rows = customer.locator(".row.bot")
        before = bot_rows.count()
        chat(customer, "你好")
        expect(bot_rows).to_have_count(before + 1, timeout=30_000)  # the bot answers again
        expect(customer.locator("#shopchat-widget")).to_have_attribute("data-state", "bot")
    finally:
        customer_context.close()
        agent_context.close()
