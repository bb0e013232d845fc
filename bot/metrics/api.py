"""The supervisor's metrics API and the dashboard page.

``GET /api/v1/metrics?from=YYYY-MM-DD&to=YYYY-MM-DD`` (supervisor session: 401 without
one, 403 for agents) with optional ``fcr_days``, ``channel``, ``topic``, ``language``,
``agent``, ``metrics=csat,fcr,...`` and ``compare=1`` (adds the previous period's
headline); ``GET /api/v1/metrics/export.csv`` the same as CSV;
``GET /api/v1/metrics/low-ratings`` the latest ratings of 1-2 with their comments;
``GET /inbox/dashboard`` the page.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json, text

from bot.errors import InvalidRequest
from bot.inbox.auth import require_agent
from bot.metrics.queries import METRICS, Filters
from bot.metrics.reader import ReportReader
from bot.metrics.report import (
    RangeError,
    Report,
    build_report,
    parse_day,
    resolve_range,
    shop_today,
)
from bot.metrics.settings import MAX_FCR_WINDOW_DAYS, MetricsSettings
from bot.metrics.store import ContactStore
from bot.pages import PAGE_CSP, STATIC

MAX_LOW_RATINGS = 100


class MetricsApi:
    """Routes of the metrics API and the dashboard page."""

    def __init__(
        self, *, reader: ReportReader, contacts: ContactStore, settings: MetricsSettings
    ) -> None:
        """Wire the API.

        Args:
            reader: Runs reports on read-only connections, in a worker thread.
            contacts: Contact store (low ratings).
            settings: FCR window and the shop's time zone.
        """
        self._reader = reader
        self._contacts = contacts
        self._settings = settings

    async def report(self, request: Request) -> Report:
        """Build the report a request asks for.

        Raises:
            InvalidRequest: a malformed or impossible parameter.
        """
        args = request.args
        try:
            first, last = resolve_range(
                parse_day(args.get("from"), "from"),
                parse_day(args.get("to"), "to"),
                self._settings.utc_offset,
            )
        except RangeError as exc:
            raise InvalidRequest(str(exc)) from None
        window = self._settings.fcr_window_days
        if args.get("fcr_days"):
            try:
                window = float(args.get("fcr_days"))
            except ValueError:
                raise InvalidRequest("'fcr_days' must be a number") from None
            if not 0 < window <= MAX_FCR_WINDOW_DAYS:
                raise InvalidRequest(f"'fcr_days' must be between 0 and {MAX_FCR_WINDOW_DAYS}")
        agent: int | None = None
        if args.get("agent"):
            try:
                agent = int(args.get("agent"))
            except ValueError:
                raise InvalidRequest("'agent' must be an agent id") from None
        names: tuple[str, ...] | None = None
        if args.get("metrics"):
            names = tuple(n.strip() for n in args.get("metrics").split(",") if n.strip())
            unknown = [n for n in names if n not in METRICS]
            if unknown:
                raise InvalidRequest(f"unknown metric(s): {', '.join(sorted(unknown))[:200]}")
        filters = Filters(
            channel=_short(args.get("channel")),
            topic=_short(args.get("topic")),
            language=_short(args.get("language")),
            agent_id=agent,
        )
        compare = args.get("compare", "") in ("1", "true", "yes")
        return await self._reader.run(
            lambda session: build_report(
                session,
                first,
                last,
                window_days=window,
                filters=filters,
                metric_names=names,
                compare=compare,
                today=shop_today(self._settings.utc_offset),
            )
        )

    def blueprint(self) -> Blueprint:
        """Return the routes."""
        bp = Blueprint("metrics_api")

        @bp.get("/api/v1/metrics")
        @require_agent(supervisor=True)
        async def metrics(request: Request) -> HTTPResponse:
            return json((await self.report(request)).public())

        @bp.get("/api/v1/metrics/export.csv")
        @require_agent(supervisor=True)
        async def export(request: Request) -> HTTPResponse:
            report = await self.report(request)
            return text(
                report.csv_text(),
                content_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": (
                        f'attachment; filename="metrics-{report.first}-{report.last}.csv"'
                    )
                },
            )

        @bp.get("/api/v1/metrics/low-ratings")
        @require_agent(supervisor=True)
        async def low_ratings(request: Request) -> HTTPResponse:
            try:
                first, last = resolve_range(
                    parse_day(request.args.get("from"), "from"),
                    parse_day(request.args.get("to"), "to"),
                    self._settings.utc_offset,
                )
                limit = int(request.args.get("limit") or 20)
            except (RangeError, ValueError) as exc:
                raise InvalidRequest(str(exc) or "bad parameter") from None
            rows = await self._contacts.low_ratings(
                first, last, self._settings.utc_offset, max(1, min(limit, MAX_LOW_RATINGS))
            )
            return json(
                {
                    "ratings": [
                        {
                            **_low_rating(r.contact.public()),
                            "agent_name": r.agent_name,
                            "transcript_url": f"/inbox#conversation={r.contact.conversation_id}",
                        }
                        for r in rows
                    ]
                }
            )

        @bp.get("/inbox/dashboard")
        async def dashboard(request: Request) -> HTTPResponse:
            response = await file(STATIC / "dashboard.html", mime_type="text/html; charset=utf-8")
            response.headers["Content-Security-Policy"] = PAGE_CSP
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Cache-Control"] = "no-cache"
            return response

        return bp


def _short(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if len(value) > 64:
        raise InvalidRequest("filter values are at most 64 characters")
    return value.strip()


def _low_rating(contact: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "conversation_id",
        "channel",
        "language",
        "topic",
        "handed_off",
        "handoff_reason",
        "outcome",
        "rating",
        "rated_at",
        "comment",
        "started_at",
        "resolved_at",
        "survey_agent_id",
    )
    return {k: contact[k] for k in keep} | {"contact_id": contact["id"]}
