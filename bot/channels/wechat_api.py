"""Async clients of WeChat's server APIs: the Official Account and WeCom customer service.

Both authenticate with an access token that is fetched with the app's secret, lives for
``expires_in`` seconds (7200 today) and is shared by every call. ``AccessTokens`` keeps
it, fetches it once for all concurrent callers and renews it before it expires. A call
answered with errcode 40001/40014/42001 (invalid or expired token: somebody else fetched
a new one, or the clock drifted) renews the token and is sent again once; a call that
fails in transit, with HTTP 5xx or errcode -1 (system busy) is retried once after
``retry_delay`` seconds, so a reply is not lost to a single hiccup.

Tokens, secrets and URLs with them are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_ERRORS = frozenset({-1})
# Outside the 48-hour window, over the per-message quota, or (WeCom) a session that is
# no longer with the API: the customer must write again first.
WINDOW_ERRORS = frozenset({45015, 45047, 95018})
MAX_TEXT_BYTES = 2000  # WeChat cuts text messages at 2048 bytes


class WeChatApiError(Exception):
    """WeChat refused a call, or could not be reached."""

    def __init__(self, code: int | None, message: str) -> None:
        """Keep the errcode (None when WeChat was not reached) and a safe message."""
        super().__init__(f"{message} (errcode {code})" if code is not None else message)
        self.code = code


class WindowClosed(WeChatApiError):
    """The customer has not written within the window in which the API may answer."""


def _error(code: int, message: str) -> WeChatApiError:
    if code in WINDOW_ERRORS:
        return WindowClosed(code, message)
    return WeChatApiError(code, message)


class AccessTokens:
    """One cached access token, renewed before it expires."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the cache.

        Args:
            fetch: Gets a new ``(token, expires_in seconds)`` from WeChat.
            clock: Monotonic seconds (tests pass a fake one).
        """
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self) -> str:
        """Return a valid token, fetching one when none is cached or it is due."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            token, expires_in = await self._fetch()
            self.fetches += 1
            # Renew a little early: at most 5 minutes, at least a fifth of the lifetime.
            margin = min(300.0, expires_in * 0.2)
            self._token = token
            self._renew_at = self._clock() + max(0.0, expires_in - margin)
            return token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the cached one (WeChat called it invalid)."""
        if self._token == token:
            self._token = None


class WeChatApiClient:
    """What the Official Account and WeCom clients share: session, token, retries."""

    def __init__(self, base_url: str, retry_delay: float = 1.0, timeout: float = 10.0) -> None:
        """Configure the client (the HTTP session opens on first use or in ``start``).

        Args:
            base_url: API base URL (``WECHAT_API_BASE`` / ``WECOM_API_BASE``).
            retry_delay: Seconds before a failed call is sent again.
            timeout: Seconds per HTTP request.
        """
        self._base = base_url.rstrip("/")
        self._retry_delay = retry_delay
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.tokens = AccessTokens(self._fetch_token)

    async def start(self) -> None:
        """Open the HTTP session (inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open HTTP session."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _fetch_token(self) -> tuple[str, float]:
        raise NotImplementedError

    async def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        async with self.session.get(f"{self._base}{path}", params=params) as resp:
            return await self._json(resp)

    async def _post_json(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(
            f"{self._base}{path}", params={"access_token": token}, json=body
        ) as resp:
            return await self._json(resp)

    @staticmethod
    async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
        if resp.status >= 500:
            raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
        if resp.status >= 300:
            raise WeChatApiError(None, f"HTTP {resp.status}")
        data = await resp.json(content_type=None)
        if not isinstance(data, dict):
            raise WeChatApiError(None, "answer is not a JSON object")
        return data

    async def _token_from(self, path: str, params: dict[str, str]) -> tuple[str, float]:
        data = await self._get_json(path, params)
        code = int(data.get("errcode") or 0)
        token = data.get("access_token")
        if code or not isinstance(token, str) or not token:
            raise WeChatApiError(code or None, "no access token")
        return token, float(data.get("expires_in") or 7200)

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body with the access token; renew and retry as described above.

        Args:
            path: API path, e.g. ``/cgi-bin/message/custom/send``.
            body: The JSON body.

        Returns:
            WeChat's answer (errcode 0).

        Raises:
            WindowClosed: the customer's window for API messages is closed.
            WeChatApiError: any other refusal, or two failures in a row.
        """
        renewed = retried = False
        while True:
            token = ""
            try:
                token = await self.tokens.get()
                data = await self._post_json(path, token, body)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                if retried:
                    raise WeChatApiError(None, type(exc).__name__) from exc
                retried = True
                logger.warning("WeChat API %s failed (%s); retrying", path, type(exc).__name__)
                await asyncio.sleep(self._retry_delay)
                continue
            code = int(data.get("errcode") or 0)
            if code == 0:
                return data
            if code in TOKEN_ERRORS and not renewed:
                renewed = True
                logger.info("WeChat API %s: access token rejected (%s); renewing", path, code)
                self.tokens.invalidate(token)
                continue
            if code in BUSY_ERRORS and not retried:
                retried = True
                logger.warning("WeChat API %s busy; retrying", path)
                await asyncio.sleep(self._retry_delay)
                continue
            raise _error(code, f"WeChat API {path} refused")


def clip(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes without breaking a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", errors="ignore") + "…"


class OfficialAccountApi(WeChatApiClient):
    """The Official Account's customer-service message API."""

    def __init__(self, base_url: str, appid: str, appsecret: str, retry_delay: float = 1.0) -> None:
        """Configure the client.

        Args:
            base_url: ``WECHAT_API_BASE``.
            appid: ``WECHAT_APPID``.
            appsecret: ``WECHAT_APPSECRET``.
            retry_delay: Seconds before a failed call is sent again.
        """
        super().__init__(base_url, retry_delay)
        self._appid = appid
        self._secret = appsecret

    async def _fetch_token(self) -> tuple[str, float]:
        return await self._token_from(
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self._appid, "secret": self._secret},
        )

    async def send_text(self, openid: str, text: str) -> None:
        """Send a text message to a follower (``message/custom/send``).

        Raises:
            WindowClosed: the follower has not written within 48 hours.
            WeChatApiError: WeChat refused or could not be reached twice.
        """
        await self.call(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": clip(text)}},
        )


class WeComKfApi(WeChatApiClient):
    """WeCom customer service (微信客服): read messages, answer, move the session."""

    def __init__(self, base_url: str, corpid: str, secret: str, retry_delay: float = 1.0) -> None:
        """Configure the client.

        Args:
            base_url: ``WECOM_API_BASE``.
            corpid: ``WECOM_CORPID``.
            secret: ``WECOM_SECRET`` (the customer-service app's secret).
            retry_delay: Seconds before a failed call is sent again.
        """
        super().__init__(base_url, retry_delay)
        self._corpid = corpid
        self._secret = secret

    async def _fetch_token(self) -> tuple[str, float]:
        return await self._token_from(
            "/cgi-bin/gettoken", {"corpid": self._corpid, "corpsecret": self._secret}
        )

    async def sync_msg(
        self, cursor: str | None, event_token: str | None, open_kfid: str | None
    ) -> dict[str, Any]:
        """Read the next page of messages after ``cursor`` (``kf/sync_msg``).

        Args:
            cursor: ``next_cursor`` of the previous page; None from the start.
            event_token: The ``Token`` of the callback that announced the messages.
            open_kfid: The customer-service account, if known.

        Returns:
            ``{"next_cursor", "has_more", "msg_list"}``.
        """
        body: dict[str, Any] = {"limit": 1000}
        if cursor:
            body["cursor"] = cursor
        if event_token:
            body["token"] = event_token
        if open_kfid:
            body["open_kfid"] = open_kfid
        return await self.call("/cgi-bin/kf/sync_msg", body)

    async def send_text(self, external_userid: str, open_kfid: str, text: str) -> None:
        """Answer a customer (``kf/send_msg``).

        Raises:
            WindowClosed: outside the 48-hour window, or the session is with a person.
            WeChatApiError: WeCom refused or could not be reached twice.
        """
        await self.call(
            "/cgi-bin/kf/send_msg",
            {
                "touser": external_userid,
                "open_kfid": open_kfid,
                "msgtype": "text",
                "text": {"content": clip(text)},
            },
        )

    async def send_on_event(self, code: str, text: str) -> None:
        """Send the welcome text of an ``enter_session`` event (``send_msg_on_event``)."""
        await self.call(
            "/cgi-bin/kf/send_msg_on_event",
            {"code": code, "msgtype": "text", "text": {"content": clip(text)}},
        )

    async def transfer(
        self, open_kfid: str, external_userid: str, state: int, servicer_userid: str | None
    ) -> None:
        """Move the WeCom session to another state (``kf/service_state/trans``).

        Args:
            open_kfid: The customer-service account.
            external_userid: The customer.
            state: 1 = with the API (bot), 2 = waiting for a receptionist, 3 = with a
                receptionist (needs ``servicer_userid``), 4 = ended.
            servicer_userid: The receptionist's WeCom user id.
        """
        body: dict[str, Any] = {
            "open_kfid": open_kfid,
            "external_userid": external_userid,
            "service_state": state,
        }
        if servicer_userid:
            body["servicer_userid"] = servicer_userid
        await self.call("/cgi-bin/kf/service_state/trans", body)
