"""Headless Debian Chromium driven by Playwright, shared by the browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.bot.gateway_harness import PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
    reason="Debian chromium is not installed (scripts/system_deps.sh installs it)",
)


@contextmanager
def launched_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed afterwards."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def chat(page: Page, text: str) -> None:
    page.locator("[data-testid=chat-input]").fill(text)
    page.locator("[data-testid=chat-input]").press("Enter")


def open_shop_as(page: Page, base_url: str, customer: str) -> None:
    page.goto(base_url + "/")
    page.locator("[data-testid=demo-customer]").select_option(customer)
    page.wait_for_function("() => window.ShopChat !== undefined")
    if customer:
        # The demo page fetches the token asynchronously; a message sent before it
        # arrives would start an anonymous conversation.
        page.wait_for_function("() => window.ShopChat.hasCustomerToken()")
    page.locator("[data-testid=chat-launcher]").click()
    expect(page.locator("#shopchat-widget")).to_have_attribute("data-connected", "1")


def agent_login(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/inbox")
    page.locator("[data-testid=login-username]").fill(username)
    page.locator("[data-testid=login-password]").fill(PASSWORD)
    page.locator("[data-testid=login-submit]").click()
    expect(page.locator("[data-testid=inbox-app]")).to_be_visible()
    expect(page.locator("[data-testid=inbox-connection]")).to_have_attribute("data-live", "1")
