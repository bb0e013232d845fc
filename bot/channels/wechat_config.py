"""Configuration of the WeChat channels (Official Account and WeCom customer service)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.channels.wechat_crypto import decode_aes_key

OFFICIAL_API_BASE = "https://api.weixin.qq.com"
WECOM_API_BASE = "https://qyapi.weixin.qq.com"
HANDOFF_MODES = ("inbox", "wecom")


class WeChatConfigError(ValueError):
    """A WeChat setting cannot be used."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise WeChatConfigError(f"{name} must be a number") from exc
    if value < 0:
        raise WeChatConfigError(f"{name} must not be negative")
    return value


def _aes_key(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip() or None
    if value is not None:
        try:
            decode_aes_key(value)
        except ValueError as exc:
            raise WeChatConfigError(f"{name}: {exc}") from exc
    return value


@dataclass(frozen=True)
class WeChatSettings:
    """Everything the WeChat channels read from the environment.

    Attributes:
        token: ``WECHAT_TOKEN``, the Official Account's server token; the channel at
            ``/wechat`` exists only when it is set.
        appid: ``WECHAT_APPID``.
        appsecret: ``WECHAT_APPSECRET`` (needed for the customer-service API).
        aes_key: ``WECHAT_AES_KEY``, the EncodingAESKey for safe mode.
        api_base: ``WECHAT_API_BASE``, the Official Account API's base URL.
        reply_deadline: ``WECHAT_REPLY_DEADLINE``, seconds to wait for the bot before
            answering ``success`` and pushing the reply through the API instead.
        retry_delay: ``WECHAT_RETRY_DELAY``, seconds before a failed push is retried.
        wecom_corpid: ``WECOM_CORPID``; WeCom customer service at ``/wecom`` exists
            only when it, the token, the AES key and the secret are set.
        wecom_secret: ``WECOM_SECRET``, the secret of the customer-service app.
        wecom_token: ``WECOM_TOKEN``, the callback token.
        wecom_aes_key: ``WECOM_AES_KEY``, the callback EncodingAESKey.
        wecom_api_base: ``WECOM_API_BASE``, the WeCom API's base URL.
        wecom_handoff: ``WECOM_HANDOFF``: ``inbox`` (agents answer in the gateway's
            inbox) or ``wecom`` (an agent taking the conversation moves the WeCom
            session to a human receptionist, who answers in WeCom).
        wecom_servicer_userid: ``WECOM_SERVICER_USERID``, the receptionist for
            ``wecom`` mode.
    """

    token: str | None = None
    appid: str | None = None
    appsecret: str | None = None
    aes_key: str | None = None
    api_base: str = OFFICIAL_API_BASE
    reply_deadline: float = 4.0
    retry_delay: float = 1.0
    wecom_corpid: str | None = None
    wecom_secret: str | None = None
    wecom_token: str | None = None
    wecom_aes_key: str | None = None
    wecom_api_base: str = WECOM_API_BASE
    wecom_handoff: str = "inbox"
    wecom_servicer_userid: str | None = None

    @property
    def official_account(self) -> bool:
        """Whether the Official Account channel is configured."""
        return bool(self.token)

    @property
    def can_push(self) -> bool:
        """Whether the customer-service API can be used (app id and secret set)."""
        return bool(self.appid and self.appsecret)

    @property
    def wecom(self) -> bool:
        """Whether WeCom customer service is configured."""
        return bool(
            self.wecom_corpid and self.wecom_secret and self.wecom_token and self.wecom_aes_key
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WeChatSettings:
        """Read the settings.

        Args:
            env: Environment variables.

        Returns:
            The settings (channels without their variables stay off).

        Raises:
            WeChatConfigError: a value is malformed (an AES key of the wrong shape,
                safe mode without an app id, an unknown handoff mode).
        """

        def text(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        settings = cls(
            token=text("WECHAT_TOKEN"),
            appid=text("WECHAT_APPID"),
            appsecret=text("WECHAT_APPSECRET"),
            aes_key=_aes_key(env, "WECHAT_AES_KEY"),
            api_base=(text("WECHAT_API_BASE") or OFFICIAL_API_BASE).rstrip("/"),
            reply_deadline=_float(env, "WECHAT_REPLY_DEADLINE", cls.reply_deadline),
            retry_delay=_float(env, "WECHAT_RETRY_DELAY", cls.retry_delay),
            wecom_corpid=text("WECOM_CORPID"),
            wecom_secret=text("WECOM_SECRET"),
            wecom_token=text("WECOM_TOKEN"),
            wecom_aes_key=_aes_key(env, "WECOM_AES_KEY"),
            wecom_api_base=(text("WECOM_API_BASE") or WECOM_API_BASE).rstrip("/"),
            wecom_handoff=(text("WECOM_HANDOFF") or "inbox").lower(),
            wecom_servicer_userid=text("WECOM_SERVICER_USERID"),
        )
        if settings.reply_deadline >= 5:
            raise WeChatConfigError("WECHAT_REPLY_DEADLINE must be below WeChat's 5 seconds")
        if settings.aes_key and not settings.appid:
            raise WeChatConfigError("WECHAT_AES_KEY (safe mode) needs WECHAT_APPID")
        if settings.wecom_handoff not in HANDOFF_MODES:
            raise WeChatConfigError("WECOM_HANDOFF must be 'inbox' or 'wecom'")
        if settings.wecom_handoff == "wecom" and not settings.wecom_servicer_userid:
            raise WeChatConfigError("WECOM_HANDOFF=wecom needs WECOM_SERVICER_USERID")
        return settings
