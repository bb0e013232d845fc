"""A scripted stand-in for Rasa's REST webhook and tracker API, for gateway tests.

Keyword rules pick the intent of each message; the tracker answers with that intent and
whether a form is open, exactly the fields the gateway reads. It runs in a thread with
its own event loop, so a gateway process can talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.bot.gateway_harness import free_port

# (keywords, intent, reply, opens a form, handoff reason)
RULES: tuple[tuple[tuple[str, ...], str, str, str | None, str | None], ...] = (
    (("谢谢", "thanks", "thank you"), "thanks", "不客气 / You're welcome", None, None),
    (("再见", "bye"), "goodbye", "再见 / Bye", None, None),
    (("人工", "person", "human"), "human_agent", "正在为您转接人工客服", None, "customer_request"),
    (("到哪", "where is", "物流", "快递"), "track_shipment", "您的包裹正在派送中", None, None),
    (("退货", "return"), "request_return", "请问要退哪件商品？", "return_form", None),
    (("积分", "points"), "check_points", "您有 1200 积分", None, None),
    (("你好", "hello", "hi"), "greet", "您好！有什么可以帮您？", None, None),
)
FALLBACK = ("nlu_fallback", "抱歉，我没听懂", None, None)


@dataclass
class FakeRasa:
    """The server's state: what each conversation's last message was understood as."""

    port: int = field(default_factory=free_port)
    latest: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)
    tracker_available: bool = True
    # Send intent and form with the replies, as the project's REST channel does
    # (deploy/turn_channel.py); off: a stock REST channel.
    turn_header: bool = False
    tracker_reads: int = 0

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def understand(self, text: str) -> tuple[str, str, str | None, str | None]:
        """Intent, reply, form and handoff reason for a message."""
        lowered = text.lower()
        for keywords, intent, reply, form, handoff in RULES:
            if any(k in lowered for k in keywords):
                return intent, reply, form, handoff
        return FALLBACK

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, text = str(body["sender"]), str(body["message"])
        self.messages.append((sender, text))
        intent, reply, form, handoff = self.understand(text)
        self.latest[sender] = (intent, form)
        replies: list[dict[str, Any]] = [{"recipient_id": sender, "text": reply}]
        if handoff:
            replies.append(
                {
                    "recipient_id": sender,
                    "custom": {"handoff": {"reason": handoff, "intent": intent, "order_id": None}},
                }
            )
        headers = {}
        if self.turn_header:
            headers["X-Rasa-Turn"] = json.dumps(
                {"intent": intent, "confidence": 0.99, "active_loop": form}
            )
        return web.json_response(replies, headers=headers)

    async def tracker(self, request: web.Request) -> web.Response:
        self.tracker_reads += 1
        if not self.tracker_available:
            return web.json_response({"error": "disabled"}, status=403)
        sender = request.match_info["sender"]
        intent, form = self.latest.get(sender, (None, None))
        return web.json_response(
            {
                "sender_id": sender,
                "latest_message": {"intent": {"name": intent, "confidence": 0.99}},
                "active_loop": {"name": form} if form else {},
                "slots": {},
            }
        )


class FakeRasaServer:
    """Runs a :class:`FakeRasa` in a background thread."""

    def __init__(self) -> None:
        self.state = FakeRasa()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> FakeRasa:
        """Start serving; returns the state (with the URL)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self.state

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.state.webhook)
        app.router.add_get("/conversations/{sender}/tracker", self.state.tracker)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.state.port).start()

    def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
