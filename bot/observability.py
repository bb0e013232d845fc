"""Request ids in every log line, and an access log without bodies or queries."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from sanic import Request, Sanic
from sanic.response import HTTPResponse

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")
access_logger = logging.getLogger("bot.access")

LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the current request id."""
        record.request_id = request_id.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send all logs (Sanic's included) to stderr with the request id."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("sanic.root", "sanic.error", "sanic.access", "sanic.server"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


def install(app: Sanic) -> None:
    """Register the request-id middleware and the access log on ``app``."""

    @app.on_request
    async def _start(request: Request) -> None:
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex[:16]
        request.ctx.request_id = rid
        request.ctx.started = time.monotonic()
        request_id.set(rid)

    @app.on_response
    async def _finish(request: Request, response: HTTPResponse) -> None:
        rid = getattr(request.ctx, "request_id", None)
        if rid:
            response.headers["X-Request-ID"] = rid
        started = getattr(request.ctx, "started", None)
        elapsed = (time.monotonic() - started) * 1000 if started else 0.0
        # Path only: query strings may carry tokens; bodies are never logged.
        access_logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status, elapsed
        )
