"""Static pages and files: the widget script, the demo shop and the inbox page."""

from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json

from bot.errors import InvalidRequest, NotFound
from bot.identity import issue_customer_token

STATIC = Path(__file__).resolve().parent / "static"

# The demo shop's customers (shared/demo_fixture.yml).
DEMO_CUSTOMERS = {
    "C1001": {"name": "张伟", "language": "zh"},
    "C1002": {"name": "李娜", "language": "zh"},
    "C1003": {"name": "Emily Chen", "language": "en"},
}

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def pages_blueprint(demo_mode: bool, token_secret: str) -> Blueprint:
    """Return the page routes.

    Args:
        demo_mode: Serve ``/demo/token`` (development only).
        token_secret: Secret the demo tokens are signed with.
    """
    bp = Blueprint("pages")

    async def page(name: str) -> HTTPResponse:
        response = await file(STATIC / name, mime_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/")
    async def demo_shop(request: Request) -> HTTPResponse:
        return await page("demo.html")

    @bp.get("/inbox")
    async def inbox(request: Request) -> HTTPResponse:
        return await page("inbox.html")

    @bp.get("/widget.js")
    async def widget(request: Request) -> HTTPResponse:
        response = await file(
            STATIC / "widget.js", mime_type="application/javascript; charset=utf-8"
        )
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    @bp.get("/demo/config")
    async def demo_config(request: Request) -> HTTPResponse:
        customers = [{"id": k, **v} for k, v in DEMO_CUSTOMERS.items()] if demo_mode else []
        return json({"demo_mode": demo_mode, "customers": customers})

    @bp.get("/demo/token")
    async def demo_token(request: Request) -> HTTPResponse:
        if not demo_mode:
            raise NotFound()
        customer_id = request.args.get("customer", "")
        if customer_id not in DEMO_CUSTOMERS:
            raise InvalidRequest("Unknown demo customer.")
        return json(
            {
                "customer_id": customer_id,
                "token": issue_customer_token(customer_id, token_secret),
                **DEMO_CUSTOMERS[customer_id],
            }
        )

    return bp
