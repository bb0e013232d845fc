"""The gateway application: ``create_app(settings)`` builds and wires everything."""

from __future__ import annotations

import asyncio
import logging
import warnings
from dataclasses import dataclass
from typing import Any

from sanic import Sanic
from sanic.response import HTTPResponse

from bot.channels.web import WebInput
from bot.conversations import ConversationService
from bot.errors import GatewayErrorHandler
from bot.events import EventBus
from bot.handoff import HandoffService
from bot.inbox.api import InboxApi
from bot.inbox.auth import InboxAuth
from bot.inbox.card import HandoffCardBuilder
from bot.inbox.orders import ShopOrderLookup
from bot.inbox.passwords import hash_password
from bot.listeners import LivePushListener
from bot.live import LiveHub
from bot.live_redis import make_live_hub
from bot.metrics.settings import MetricsSettings
from bot.metrics.wiring import MetricsModule
from bot.observability import install as install_observability
from bot.pages import STATIC, pages_blueprint
from bot.rasa_client import RasaClient
from bot.settings import Settings
from bot.shared_locks import make_locks
from bot.store import Stores
from bot.store.agents import AgentExists
from bot.transcript import Transcript
from bot.wechat_setup import install_wechat

logger = logging.getLogger(__name__)

# Accounts created in demo mode only (name, display name, role).
DEMO_AGENTS = (
    ("agent", "王芳", "agent"),
    ("agent2", "Leo Li", "agent"),
    ("supervisor", "陈主管", "supervisor"),
)


@dataclass
class Gateway:
    """Every long-lived object of one running gateway."""

    settings: Settings
    stores: Stores
    bus: EventBus
    hub: LiveHub
    rasa: RasaClient
    handoff: HandoffService
    conversations: ConversationService
    auth: InboxAuth
    metrics: MetricsModule | None = None

    async def start(self) -> None:
        """Create tables, open the HTTP client, start the event worker."""
        await asyncio.to_thread(self.stores.db.create_schema)
        await self.rasa.start()
        await self.hub.start()
        self.bus.start()
        if self.metrics is not None:
            self.metrics.start()
        if self.settings.demo_mode:
            await asyncio.to_thread(self._ensure_demo_agents)

    async def stop(self) -> None:
        """Finish queued events, close the HTTP client and the database pool."""
        if self.metrics is not None:
            await self.metrics.stop()
        await self.bus.stop()
        await self.hub.close()
        await self.rasa.close()
        await asyncio.to_thread(self.stores.db.dispose)

    def _ensure_demo_agents(self) -> None:
        for username, display, role in DEMO_AGENTS:
            if self.stores.agents.exists_sync(username):
                continue
            try:
                self.stores.agents.create_sync(
                    username, display, role, hash_password(self.settings.demo_agent_password)
                )
                logger.warning("demo mode: created inbox account %r", username)
            except AgentExists:
                pass


def build_gateway(settings: Settings) -> Gateway:
    """Wire the gateway's objects (nothing connects until ``start``)."""
    stores = Stores.connect(settings.database_url)
    bus = EventBus()
    hub = make_live_hub(settings.redis_url)
    locks = make_locks(settings.redis_url)  # shared across instances with Redis
    transcript = Transcript(stores.conversations, bus)
    rasa = RasaClient(settings.rasa_url, settings.rasa_auth_token, settings.rasa_timeout)
    handoff = HandoffService(
        stores=stores,
        transcript=transcript,
        bus=bus,
        locks=locks,
        service_hours=settings.service_hours,
        minutes_per_customer=settings.minutes_per_customer,
    )

    async def typing(conversation_id: str, on: bool) -> None:
        hub.to_customer(conversation_id, {"type": "typing", "on": on, "who": "bot"})

    metrics = MetricsModule(  # contacts, ratings, reports (docs/metrics.md)
        settings=MetricsSettings.from_env(settings.service_hours.utc_offset),
        stores=stores,
        bus=bus,
        transcript=transcript,
        locks=locks,
        rasa=rasa,
    )
    conversations = ConversationService(
        stores=stores,
        rasa=rasa,
        handoff=handoff,
        transcript=transcript,
        bus=bus,
        locks=locks,
        max_chars=settings.max_message_chars,
        typing=typing,
        hooks=metrics.hooks,
    )
    LivePushListener(hub, handoff).subscribe(bus)
    auth = InboxAuth(
        stores.agents,
        settings.agent_session_secret,
        settings.session_hours,
        settings.cookie_secure,
    )
    return Gateway(
        settings=settings,
        stores=stores,
        bus=bus,
        hub=hub,
        rasa=rasa,
        handoff=handoff,
        conversations=conversations,
        auth=auth,
        metrics=metrics,
    )


def create_app(settings: Settings | None = None, name: str = "shop_gateway") -> Sanic:
    """Build the gateway app.

    Args:
        settings: Configuration; read from the environment when None.
        name: Sanic app name (tests create several apps in one process).

    Returns:
        The Sanic app; ``app.ctx.gateway`` holds the running objects.
    """
    settings = settings or Settings.from_env()
    with warnings.catch_warnings():
        # Sanic 21.12 warns that opting out of its app registry goes away in 22.6; we pin
        # 21.12 (Rasa 3.6) and need several apps per process in tests.
        warnings.simplefilter("ignore", DeprecationWarning)
        app = Sanic(
            name,
            error_handler=GatewayErrorHandler(),
            configure_logging=False,
            register=False,
        )
    app.config.REQUEST_MAX_SIZE = 256 * 1024
    app.config.WEBSOCKET_MAX_SIZE = 64 * 1024
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.ACCESS_LOG = False
    gateway = build_gateway(settings)
    app.ctx.settings = settings
    app.ctx.gateway = gateway
    app.ctx.inbox_auth = gateway.auth

    install_observability(app)

    @app.on_response
    async def security_headers(_request: Any, response: HTTPResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")

    web = WebInput(gateway.conversations, gateway.hub, settings.customer_token_secret)
    app.blueprint(web.blueprint())
    install_wechat(app, gateway)  # /wechat and /wecom, when configured (docs/wechat.md)
    inbox = InboxApi(
        stores=gateway.stores,
        handoff=gateway.handoff,
        cards=HandoffCardBuilder(
            gateway.stores, gateway.rasa, ShopOrderLookup(settings.shop_database_url)
        ),
        hub=gateway.hub,
        auth=gateway.auth,
    )
    app.blueprint(inbox.blueprint())
    app.blueprint(inbox.socket_blueprint())
    if gateway.metrics is not None:
        app.blueprint(gateway.metrics.blueprint())  # /api/v1/metrics, /inbox/dashboard
    app.blueprint(pages_blueprint(settings.demo_mode, settings.customer_token_secret))
    app.static("/static", str(STATIC), name="static")

    @app.before_server_start
    async def start(app: Sanic, _loop: Any) -> None:
        await app.ctx.gateway.start()

    @app.after_server_stop
    async def stop(app: Sanic, _loop: Any) -> None:
        await app.ctx.gateway.stop()

    return app
