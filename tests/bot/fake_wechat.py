"""A local stand-in for WeChat's server APIs (Official Account and WeCom customer service).

It runs an aiohttp app in a thread on a free port, so the gateway process can be pointed
at it with ``WECHAT_API_BASE`` / ``WECOM_API_BASE``. It issues access tokens that really
expire, records every message pushed, can fail the next calls, expire every token at once,
close a customer's 48-hour window, and serves WeCom ``sync_msg`` pages after a cursor.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.bot.gateway_harness import free_port

APPID = "wx0123456789abcdef"
APPSECRET = "test-official-account-secret"
CORPID = "ww0123456789abcdef"
CORPSECRET = "test-wecom-kf-secret"


@dataclass
class Token:
    """An issued access token."""

    value: str
    expires_at: float
    revoked: bool = False


@dataclass
class FakeState:
    """Everything the fake recorded (read it under ``FakeWeChat.lock``)."""

    pushes: list[dict[str, Any]] = field(default_factory=list)
    kf_sends: list[dict[str, Any]] = field(default_factory=list)
    kf_event_sends: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    sync_requests: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    token_rejections: list[int] = field(default_factory=list)
    failures_served: int = 0


class FakeWeChat:
    """The fake server; use as a context manager or call ``start``/``stop``."""

    def __init__(self, expires_in: int = 7200) -> None:
        """Prepare (nothing listens until ``start``)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.state = FakeState()
        self.expires_in = expires_in
        self._tokens: dict[str, Token] = {}
        self._serial = itertools.count(1)
        self._fail_next = 0
        self._fail_status = 500
        self._closed_windows: set[str] = set()
        self._kf_messages: list[dict[str, Any]] = []
        self._kf_page_size = 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- control (test side) -------------------------------------------------------------

    def start(self) -> FakeWeChat:
        """Start serving in a background thread."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_get("/cgi-bin/token", self._official_token)
            app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
            app.router.add_get("/cgi-bin/gettoken", self._wecom_token)
            app.router.add_post("/cgi-bin/kf/sync_msg", self._sync_msg)
            app.router.add_post("/cgi-bin/kf/send_msg", self._kf_send)
            app.router.add_post("/cgi-bin/kf/send_msg_on_event", self._kf_send_on_event)
            app.router.add_post("/cgi-bin/kf/service_state/trans", self._trans)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-wechat", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake WeChat did not start")
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` message sends with HTTP ``status``."""
        with self.lock:
            self._fail_next = count
            self._fail_status = status

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next call with one gets 42001)."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def revoke_tokens(self) -> None:
        """Make every issued token invalid (the next call with one gets 40001)."""
        with self.lock:
            for token in self._tokens.values():
                token.revoked = True

    def close_window(self, touser: str) -> None:
        """Refuse pushes to ``touser`` with 45015 (outside the 48-hour window)."""
        with self.lock:
            self._closed_windows.add(touser)

    def add_kf_message(self, **message: Any) -> None:
        """Queue a message for ``sync_msg`` (fields as WeCom sends them)."""
        with self.lock:
            message.setdefault("send_time", int(time.time()))
            self._kf_messages.append(message)

    def set_page_size(self, size: int) -> None:
        """Serve ``sync_msg`` in pages of ``size`` messages."""
        with self.lock:
            self._kf_page_size = size

    def snapshot(self) -> FakeState:
        """A copy of what was recorded so far."""
        with self.lock:
            return FakeState(
                pushes=list(self.state.pushes),
                kf_sends=list(self.state.kf_sends),
                kf_event_sends=list(self.state.kf_event_sends),
                transfers=list(self.state.transfers),
                sync_requests=list(self.state.sync_requests),
                token_fetches=self.state.token_fetches,
                token_rejections=list(self.state.token_rejections),
                failures_served=self.state.failures_served,
            )

    async def wait_for(
        self, predicate: Callable[[FakeState], bool], timeout: float = 15.0
    ) -> FakeState:
        """Poll until ``predicate(snapshot)`` holds; fail with the snapshot otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if predicate(snap):
                return snap
            if time.monotonic() > deadline:
                raise AssertionError(f"fake WeChat never saw the expected calls: {snap}")
            await asyncio.sleep(0.05)

    def pushes_to(self, touser: str) -> list[str]:
        """Texts pushed to one Official Account follower so far."""
        with self.lock:
            return [p["text"]["content"] for p in self.state.pushes if p["touser"] == touser]

    def kf_texts_to(self, external_userid: str) -> list[str]:
        """Texts sent to one WeCom customer so far."""
        with self.lock:
            return [
                s["text"]["content"] for s in self.state.kf_sends if s["touser"] == external_userid
            ]

    # --- the API (server side) -----------------------------------------------------------

    def _issue(self) -> dict[str, Any]:
        value = f"tok-{next(self._serial)}"
        self._tokens[value] = Token(value, time.time() + self.expires_in)
        self.state.token_fetches += 1
        return {"access_token": value, "expires_in": self.expires_in}

    async def _official_token(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            if q.get("grant_type") != "client_credential" or q.get("appid") != APPID:
                return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
            if q.get("secret") != APPSECRET:
                return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
            return web.json_response(self._issue())

    async def _wecom_token(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            if q.get("corpid") != CORPID or q.get("corpsecret") != CORPSECRET:
                return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
            return web.json_response({"errcode": 0, "errmsg": "ok", **self._issue()})

    def _token_error(self, request: web.Request) -> int:
        """0 if the request's token is valid, else WeChat's errcode (lock held)."""
        token = self._tokens.get(request.query.get("access_token", ""))
        if token is None or token.revoked:
            code = 40001
        elif token.expires_at <= time.time():
            code = 42001
        else:
            return 0
        self.state.token_rejections.append(code)
        return code

    def _failure(self) -> web.Response | None:
        """A failure to serve instead of the real answer, if one is due (lock held)."""
        if self._fail_next <= 0:
            return None
        self._fail_next -= 1
        self.state.failures_served += 1
        if self._fail_status == 200:
            return web.json_response({"errcode": -1, "errmsg": "system error"})
        return web.Response(status=self._fail_status, text="upstream trouble")

    async def _custom_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            failure = self._failure()
            if failure is not None:
                return failure
            code = self._token_error(request)
            if code:
                return web.json_response({"errcode": code, "errmsg": "access_token problem"})
            if body.get("touser") in self._closed_windows:
                return web.json_response({"errcode": 45015, "errmsg": "response out of time limit"})
            self.state.pushes.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _sync_msg(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            code = self._token_error(request)
            if code:
                return web.json_response({"errcode": code, "errmsg": "access_token problem"})
            self.state.sync_requests.append(body)
            cursor = str(body.get("cursor") or "")
            start = int(cursor[1:]) if cursor.startswith("c") else 0
            kfid = body.get("open_kfid")
            mine = [m for m in self._kf_messages if not kfid or m.get("open_kfid") == kfid]
            page = mine[start : start + self._kf_page_size]
            end = start + len(page)
            return web.json_response(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "next_cursor": f"c{end}",
                    "has_more": 1 if end < len(mine) else 0,
                    "msg_list": page,
                }
            )

    async def _kf_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            failure = self._failure()
            if failure is not None:
                return failure
            code = self._token_error(request)
            if code:
                return web.json_response({"errcode": code, "errmsg": "access_token problem"})
            self.state.kf_sends.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": f"m{time.time_ns()}"})

    async def _kf_send_on_event(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            code = self._token_error(request)
            if code:
                return web.json_response({"errcode": code, "errmsg": "access_token problem"})
            self.state.kf_event_sends.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _trans(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            code = self._token_error(request)
            if code:
                return web.json_response({"errcode": code, "errmsg": "access_token problem"})
            self.state.transfers.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msg_code": "MSG_CODE"})
