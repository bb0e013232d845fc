"""A metrics report over a range of shop days: totals, breakdowns, JSON, CSV, table."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.metrics.queries import (
    DIMENSIONS,
    HEADLINE,
    METRICS,
    CubeKey,
    Filters,
    compute,
    handoff_reasons,
    queries_for,
    run_counters,
)
from bot.store.models import Agent

MAX_RANGE_DAYS = 400
SLICES = ("day", "channel", "topic", "language", "agent")
_SLICE_DIMENSION = {
    "day": "day",
    "channel": "channel",
    "topic": "topic",
    "language": "language",
    "agent": "agent_id",
}


class RangeError(ValueError):
    """A date range that cannot be reported on."""


def parse_day(value: str | None, name: str) -> date | None:
    """Parse ``YYYY-MM-DD`` (None stays None).

    Raises:
        RangeError: malformed.
    """
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"'{name}' must be a date as YYYY-MM-DD") from None


def shop_today(utc_offset: timedelta, now: datetime | None = None) -> date:
    """Today in the shop's time zone."""
    return (now or datetime.now(timezone.utc)).astimezone(timezone(utc_offset)).date()


def resolve_range(
    first: date | None, last: date | None, utc_offset: timedelta, default_days: int = 30
) -> tuple[date, date]:
    """Fill in a missing end (today) or start (``default_days`` before the end).

    Raises:
        RangeError: start after end, or longer than 400 days.
    """
    last = last or shop_today(utc_offset)
    first = first or last - timedelta(days=default_days - 1)
    if first > last:
        raise RangeError("'from' must not be after 'to'")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise RangeError(f"the range may span at most {MAX_RANGE_DAYS} days")
    return first, last


def previous_range(first: date, last: date) -> tuple[date, date]:
    """The period of the same length right before ``first``."""
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)


def _add(into: dict[str, float], counters: Mapping[str, float]) -> None:
    get = into.get
    for name, value in counters.items():
        into[name] = get(name, 0.0) + value


@dataclass
class Report:
    """Counters of a range, merged by dimension, and the metrics over them."""

    first: date
    last: date
    window_days: float
    filters: Filters
    metric_names: tuple[str, ...]
    cube: dict[CubeKey, dict[str, float]]
    reasons: dict[str, int] = field(default_factory=dict)
    agent_names: dict[int, str] = field(default_factory=dict)
    previous: Report | None = None
    today: date | None = None
    _totals: dict[str, float] | None = field(default=None, repr=False, compare=False)
    _slices: dict[str, dict[Any, dict[str, float]]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def fcr_provisional_from(self) -> date | None:
        """First day whose contacts may still get a repeat within the window (or None)."""
        if self.today is None:
            return None
        first = self.today - timedelta(days=math.ceil(self.window_days) - 1)
        return first if first <= self.last else None

    def totals(self) -> dict[str, float]:
        """Every counter summed over the whole range."""
        if self._totals is None:
            out: dict[str, float] = {}
            for counters in self.cube.values():
                _add(out, counters)
            self._totals = out
        return dict(self._totals)

    def breakdown(self, slice_name: str) -> dict[Any, dict[str, float]]:
        """Counters summed per value of one slice (``day`` lists every day)."""
        if self._slices is None:
            self._slices = self._all_breakdowns()
        return self._slices[slice_name]

    def _all_breakdowns(self) -> dict[str, dict[Any, dict[str, float]]]:
        """Every slice in one pass over the cube."""
        days: dict[Any, dict[str, float]] = {}
        day = self.first
        while day <= self.last:
            days[day] = {}
            day += timedelta(days=1)
        slices: dict[str, dict[Any, dict[str, float]]] = {
            name: ({} if name != "day" else days) for name in SLICES
        }
        positions = [(name, DIMENSIONS.index(_SLICE_DIMENSION[name])) for name in SLICES]
        for key, counters in self.cube.items():
            for name, index in positions:
                value = key[index]
                if name == "agent" and value is None:
                    continue  # the bot's own contacts are no agent's
                if name == "day" and isinstance(value, str):
                    value = date.fromisoformat(value)
                target = slices[name]
                cell = target.get(value)
                if cell is None:
                    cell = target[value] = {}
                _add(cell, counters)
        return slices

    def metrics(self) -> dict[str, Any]:
        """The metrics over the whole range."""
        return compute(self.metric_names, self.totals())

    def rows(self, slice_name: str) -> list[dict[str, Any]]:
        """One entry per value of a slice: key, metrics and counts."""
        entries = []
        for key, counters in self.breakdown(slice_name).items():
            entry: dict[str, Any] = {
                "key": key.isoformat() if isinstance(key, date) else key,
                **compute(self.metric_names, counters),
                "counts": {k: round(v, 1) for k, v in sorted(counters.items())},
            }
            if slice_name == "agent":
                entry["agent_name"] = self.agent_names.get(key, f"#{key}")
            entries.append(entry)
        if slice_name == "day":
            entries.sort(key=lambda e: e["key"])
        else:
            entries.sort(key=lambda e: (-(e["counts"].get("contacts", 0)), str(e["key"])))
        return entries

    def public(self) -> dict[str, Any]:
        """The JSON answer of ``GET /api/v1/metrics``."""
        metrics = self.metrics()
        body: dict[str, Any] = {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "fcr_window_days": self.window_days,
            "fcr_provisional_from": (
                self.fcr_provisional_from.isoformat() if self.fcr_provisional_from else None
            ),
            "filters": self.filters.public(),
            **metrics,
            "metrics": metrics,
            "counts": {k: round(v, 1) for k, v in sorted(self.totals().items())},
            "handoff_reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
        }
        for slice_name in SLICES:
            body[f"by_{slice_name}"] = self.rows(slice_name)
        if self.previous is not None:
            body["previous"] = {
                "from": self.previous.first.isoformat(),
                "to": self.previous.last.isoformat(),
                **self.previous.metrics(),
            }
        return body

    def write_csv(self, out: TextIO) -> None:
        """Write the totals and every breakdown as CSV (one row per slice value)."""
        counter_names = sorted(c for c in self.totals() if c not in self.metric_names)
        writer = csv.writer(out)
        writer.writerow(["slice", "key", *self.metric_names, *counter_names])
        totals = self.totals()
        metrics = compute(self.metric_names, totals)
        writer.writerow(
            [
                "total",
                f"{self.first}..{self.last}",
                *(_cell(metrics[m]) for m in self.metric_names),
                *(_cell(totals.get(c)) for c in counter_names),
            ]
        )
        for slice_name in SLICES:
            for entry in self.rows(slice_name):
                key = entry.get("agent_name") if slice_name == "agent" else entry["key"]
                writer.writerow(
                    [
                        slice_name,
                        key,
                        *(_cell(entry[m]) for m in self.metric_names),
                        *(_cell(entry["counts"].get(c)) for c in counter_names),
                    ]
                )

    def csv_text(self) -> str:
        """The CSV as a string."""
        buffer = io.StringIO()
        self.write_csv(buffer)
        return buffer.getvalue()

    def table(self) -> str:
        """A plain-text summary for the terminal."""
        metrics = self.metrics()
        lines = [f"Metrics {self.first} .. {self.last} (FCR window {self.window_days:g} days)"]
        if self.filters.public():
            lines.append(f"filters: {self.filters.public()}")
        lines.append("")
        width = max(len(m) for m in metrics)
        for name, value in metrics.items():
            change = ""
            if self.previous is not None:
                before = self.previous.metrics().get(name)
                change = _change(value, before, METRICS[name].kind)
            lines.append(f"  {name:<{width}}  {_show(value, METRICS[name].kind):>10}  {change}")
        if self.reasons:
            lines.append("")
            lines.append(
                "handoff reasons: " + ", ".join(f"{k} {v}" for k, v in self.reasons.items())
            )
        columns = [
            m
            for m in ("contacts", "csat", "fcr", "containment", "handoff_rate", "low_rating_rate")
            if m in self.metric_names
        ]
        for slice_name in ("topic", "channel", "language", "agent", "day"):
            entries = self.rows(slice_name)
            if not entries:
                continue
            lines.append("")
            lines.append(_grid(slice_name, entries, columns))
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    text = str(value)
    if text[:1] in ("=", "+", "-", "@") and not isinstance(value, int):
        return "'" + text  # a spreadsheet must not run an agent's name as a formula
    return text


def _show(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value:.0f}s"
    if kind == "score":
        return f"{value:.2f}"
    return str(value)


def _change(value: Any, before: Any, kind: str) -> str:
    if value is None or before is None:
        return ""
    if kind == "share":
        return f"({(value - before) * 100:+.1f} pt)"
    if not before:
        return ""
    return f"({(value - before) / before * 100:+.1f}%)"


def _grid(slice_name: str, entries: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    keys = [str(e.get("agent_name") if slice_name == "agent" else e["key"]) for e in entries]
    width = max(len(slice_name), *(len(k) for k in keys))
    head = f"  {slice_name:<{width}}" + "".join(f"  {c[:12]:>12}" for c in columns)
    lines = [head]
    for key, entry in zip(keys, entries, strict=True):
        cells = "".join(f"  {_show(entry[c], METRICS[c].kind):>12}" for c in columns)
        lines.append(f"  {key:<{width}}{cells}")
    return "\n".join(lines)


def build_report(
    session: Session,
    first: date,
    last: date,
    *,
    window_days: float,
    filters: Filters | None = None,
    metric_names: Iterable[str] | None = None,
    compare: bool = False,
    today: date | None = None,
) -> Report:
    """Compute a report (blocking; run it off the event loop).

    Args:
        session: Open session.
        first: First shop day.
        last: Last shop day.
        window_days: FCR window in days.
        filters: Restrictions.
        metric_names: Metrics to compute (default: all of :data:`METRICS`).
        compare: Also compute the previous period of the same length.
        today: The shop's today (marks the days whose FCR is not final yet).

    Returns:
        The report.

    Raises:
        KeyError: an unknown metric name.
    """
    filters = filters or Filters()
    names = tuple(metric_names) if metric_names is not None else tuple(METRICS)
    for name in names:
        METRICS[name]  # noqa: B018 - raise KeyError for unknown names early
    query_names = queries_for(names)
    cube = run_counters(session, query_names, first, last, window_days, filters)
    reasons = handoff_reasons(session, first, last, filters)
    agent_ids = {key[DIMENSIONS.index("agent_id")] for key in cube} - {None}
    names_by_id: dict[int, str] = {}
    if agent_ids:
        for agent_id, display in session.execute(
            select(Agent.id, Agent.display_name).where(Agent.id.in_(agent_ids))
        ):
            names_by_id[agent_id] = display
    previous = None
    if compare:
        before_first, before_last = previous_range(first, last)
        headline = tuple(n for n in names if n in HEADLINE) or names
        previous = Report(
            before_first,
            before_last,
            window_days,
            filters,
            headline,
            run_counters(
                session, queries_for(headline), before_first, before_last, window_days, filters
            ),
        )
    return Report(
        first, last, window_days, filters, names, cube, reasons, names_by_id, previous, today
    )
