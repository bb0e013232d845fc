"""Helpers for the contact, rating and metrics tests (a gateway in front of a fake Rasa)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from tests.bot.gateway_harness import GatewayClient, GatewayProcess

T = TypeVar("T")


def sender() -> str:
    return "m_" + uuid.uuid4().hex[:20]


def db_path(gateway: GatewayProcess) -> str:
    return gateway.database_url.removeprefix("sqlite:///")


def query(gateway: GatewayProcess, sql: str, *params: object) -> list[dict[str, Any]]:
    """Read the gateway's database directly (tests only)."""
    connection = sqlite3.connect(db_path(gateway), timeout=10)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in connection.execute(sql, params).fetchall()]
    finally:
        connection.close()


def contacts_of(gateway: GatewayProcess, conversation_id: str) -> list[dict[str, Any]]:
    return query(
        gateway, "SELECT * FROM contacts WHERE conversation_id = ? ORDER BY seq", conversation_id
    )


def event_names(gateway: GatewayProcess, contact_id: int) -> list[str]:
    rows = query(
        gateway, "SELECT name FROM contact_events WHERE contact_id = ? ORDER BY id", contact_id
    )
    return [r["name"] for r in rows]


async def eventually(
    probe: Callable[[], Awaitable[T | None]] | Callable[[], T | None], timeout: float = 10.0
) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def texts(body: dict[str, Any]) -> str:
    return " ".join(r["text"] for r in body["replies"])


async def prompt_of(client: GatewayClient, who: str, after_id: int = 0) -> dict[str, Any]:
    """Wait for the rating prompt (a message with /rate_ buttons) after a message id."""

    async def find() -> dict[str, Any] | None:
        history = await client.history(who)
        for message in history["messages"]:  # type: ignore[union-attr]
            buttons = message.get("buttons") or []
            if message["id"] > after_id and buttons and buttons[0]["payload"].startswith("/rate_"):
                return message
        return None

    return await eventually(find)


def contact_id_of(prompt: dict[str, Any]) -> int:
    return int(prompt["buttons"][0]["payload"].split(":")[1])


async def supervisor_get(
    client: GatewayClient, path: str, token: str | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.session.get(f"{client.gateway.base_url}{path}", headers=headers) as resp:
        try:
            body = await resp.json(content_type=None)
        except (aiohttp.ContentTypeError, ValueError):
            body = {}
        return resp.status, body
