"""Wiring of the WeChat channels into a gateway app (only the configured ones)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sanic import Sanic

from bot.channels.wechat import OfficialAccountInput, OfficialAccountOutbound
from bot.channels.wechat_api import OfficialAccountApi, WeChatApiClient, WeComKfApi
from bot.channels.wechat_common import OrderedSender, Outbound
from bot.channels.wechat_identity import ShopCustomerDirectory
from bot.channels.wecom import WeComInput, WeComOutbound
from bot.store.wechat import WeChatStore
from bot.wechat_delivery import WeChatPushListener, WeChatReplyGuard

if TYPE_CHECKING:
    from bot.app import Gateway

logger = logging.getLogger(__name__)


def install_wechat(app: Sanic, gateway: Gateway) -> None:
    """Add the Official Account and WeCom channels that the settings configure.

    Registers ``/wechat`` and ``/wecom``, the push listener, the inbox reply guard, and
    start/stop listeners for the API clients. Call it before the gateway's own stop
    listener is registered, so that pushes queued at shutdown are still sent.

    Args:
        app: The gateway app.
        gateway: Its running objects.
    """
    config = gateway.settings.wechat
    if not (config.official_account or config.wecom):
        return
    store = WeChatStore(gateway.stores.db)
    sender = OrderedSender()
    clients: list[WeChatApiClient] = []
    outbounds: dict[str, Outbound] = {}
    wecom_input: WeComInput | None = None
    wecom_outbound: WeComOutbound | None = None

    if config.official_account:
        api = None
        if config.can_push:
            api = OfficialAccountApi(
                config.api_base, config.appid or "", config.appsecret or "", config.retry_delay
            )
            clients.append(api)
        else:
            logger.warning(
                "WECHAT_APPID/WECHAT_APPSECRET not set: WeChat gets passive replies only "
                "(slow answers and agent replies cannot be delivered)"
            )
        official = OfficialAccountOutbound(api, sender)
        outbounds["wechat"] = official
        app.blueprint(
            OfficialAccountInput(
                port=gateway.conversations,
                outbound=official,
                directory=ShopCustomerDirectory(gateway.settings.shop_database_url),
                settings=config,
            ).blueprint()
        )

    if config.wecom:
        kf = WeComKfApi(
            config.wecom_api_base,
            config.wecom_corpid or "",
            config.wecom_secret or "",
            config.retry_delay,
        )
        clients.append(kf)
        wecom_outbound = WeComOutbound(
            kf, sender, config.wecom_handoff, config.wecom_servicer_userid
        )
        outbounds["wecom"] = wecom_outbound
        wecom_input = WeComInput(
            port=gateway.conversations,
            outbound=wecom_outbound,
            api=kf,
            cursors=store,
            settings=config,
        )
        app.blueprint(wecom_input.blueprint())

    WeChatPushListener(
        gateway.stores,
        outbounds,
        wecom_outbound if config.wecom_handoff == "wecom" else None,
    ).subscribe(gateway.bus)
    gateway.handoff.add_reply_guard(WeChatReplyGuard(store, outbounds))

    @app.before_server_start
    async def open_clients(_app: Sanic, _loop: Any) -> None:
        for client in clients:
            await client.start()

    @app.after_server_start
    async def catch_up(_app: Sanic, _loop: Any) -> None:
        if wecom_input is not None:
            await wecom_input.catch_up()

    @app.after_server_stop
    async def close_clients(_app: Sanic, _loop: Any) -> None:
        if wecom_input is not None:
            await wecom_input.drain()
        await sender.drain()
        for client in clients:
            await client.close()
