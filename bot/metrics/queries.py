"""Metric definitions as an explicit map from each metric to the queries it needs.

Each *counter query* is one aggregate over one row name of ``contact_events`` for a range
of shop days, grouped by the slicing dimensions (day, channel, topic, language, agent)
and served by the covering index ``ix_ce_report``. Each *metric* is a formula over
counters. Nothing is looked up by a name built from a request: a metric that is not a
key of :data:`METRICS` does not exist.

Definitions (docs/metrics.md has the long form):

* contacts: contacts that ended (resolved or abandoned), by the day they started.
* CSAT: ratings 4-5 / ratings; response rate: ratings / prompts.
* FCR: 1 - (resolved contacts followed by a contact of the same customer on the same
  topic within the window) / resolved contacts; also for bot-only and agent contacts.
* containment: resolved by the bot without a handoff / contacts.
* satisfied containment: contained and (rated 4-5, or unrated and not repeated) / contacts.
* handoff rate: handed off / contacts; abandon rate: abandoned / contacts.
* fallback rate: messages not understood / messages the bot handled.
* agent first response: handoff -> first agent reply; handling: claim -> resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from bot.metrics import models
from bot.metrics.models import ContactEvent as E
from bot.metrics.recorder import (
    BOT_TURNS,
    CSAT_SENT,
    CSAT_SUBMITTED,
    FALLBACKS,
    FIRST_RESPONSE,
    HANDLING,
    HANDOFF,
    REPEAT,
    RESOLVED,
)

DIMENSIONS = ("day", "channel", "topic", "language", "agent_id")
DAY_SECONDS = 86400.0

Counters = dict[str, float]
CubeKey = tuple[Any, ...]


def _count_if(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


_RESOLVED_LABEL = E.label.in_(models.RESOLVED_OUTCOMES)
_BOT_ONLY = E.handed_off.is_(False)
_AGENT = E.handed_off.is_(True)
_CONTAINED = and_(E.label == models.OUTCOME_BOT, _BOT_ONLY)


@dataclass(frozen=True)
class CounterQuery:
    """One aggregate over one row name.

    Attributes:
        row: The ``contact_events.name`` it reads.
        counters: Named aggregates, given the FCR window in seconds.
        where: Extra conditions, given the FCR window in seconds.
    """

    row: str
    counters: Callable[[float], dict[str, ColumnElement[Any]]]
    where: Callable[[float], list[ColumnElement[Any]]] = field(default=lambda _w: [])


def _no_rating_for_contact() -> ColumnElement[Any]:
    rating = aliased(E)
    return ~exists(
        select(rating.id).where(rating.contact_id == E.contact_id, rating.name == CSAT_SUBMITTED)
    )


QUERIES: dict[str, CounterQuery] = {
    "resolutions": CounterQuery(
        RESOLVED,
        lambda _w: {
            "contacts": func.count(),
            "resolved": _count_if(_RESOLVED_LABEL),
            "resolved_bot_only": _count_if(and_(_RESOLVED_LABEL, _BOT_ONLY)),
            "resolved_agent": _count_if(and_(_RESOLVED_LABEL, _AGENT)),
            "contained": _count_if(_CONTAINED),
            "abandoned": _count_if(E.label == models.OUTCOME_ABANDONED),
            "handed_off": _count_if(_AGENT),
            "duration_sum": func.sum(E.value),
        },
    ),
    "prompts": CounterQuery(CSAT_SENT, lambda _w: {"prompts": func.count()}),
    "ratings": CounterQuery(
        CSAT_SUBMITTED,
        lambda _w: {
            "ratings": func.count(),
            "ratings_good": _count_if(E.value >= 4),
            "ratings_low": _count_if(E.value <= 2),
            "rating_sum": func.sum(E.value),
            "contained_rated": _count_if(_CONTAINED),
            "contained_rated_good": _count_if(and_(_CONTAINED, E.value >= 4)),
        },
    ),
    "repeats": CounterQuery(
        REPEAT,
        lambda _w: {
            "repeated": func.count(),
            "repeated_bot_only": _count_if(_BOT_ONLY),
            "repeated_agent": _count_if(_AGENT),
        },
        where=lambda w: [E.value <= w],
    ),
    "unrated_contained_repeats": CounterQuery(
        REPEAT,
        lambda _w: {"contained_repeated_unrated": func.count()},
        where=lambda w: [E.value <= w, _CONTAINED, _no_rating_for_contact()],
    ),
    "bot_turns": CounterQuery(BOT_TURNS, lambda _w: {"bot_turns": func.sum(E.value)}),
    "fallbacks": CounterQuery(FALLBACKS, lambda _w: {"fallbacks": func.sum(E.value)}),
    "first_responses": CounterQuery(
        FIRST_RESPONSE,
        lambda _w: {"first_responses": func.count(), "first_response_sum": func.sum(E.value)},
    ),
    "handling": CounterQuery(
        HANDLING, lambda _w: {"handled": func.count(), "handling_sum": func.sum(E.value)}
    ),
}


def _ratio(numerator: str, denominator: str) -> Callable[[Mapping[str, float]], float | None]:
    def compute(c: Mapping[str, float]) -> float | None:
        den = c.get(denominator, 0.0)
        return c.get(numerator, 0.0) / den if den else None

    return compute


def _complement(numerator: str, denominator: str) -> Callable[[Mapping[str, float]], float | None]:
    share = _ratio(numerator, denominator)

    def compute(c: Mapping[str, float]) -> float | None:
        value = share(c)
        return None if value is None else 1.0 - value

    return compute


def _satisfied_containment(c: Mapping[str, float]) -> float | None:
    contacts = c.get("contacts", 0.0)
    if not contacts:
        return None
    unrated_not_repeated = (
        c.get("contained", 0.0)
        - c.get("contained_rated", 0.0)
        - c.get("contained_repeated_unrated", 0.0)
    )
    return (c.get("contained_rated_good", 0.0) + unrated_not_repeated) / contacts


@dataclass(frozen=True)
class Metric:
    """A metric: the counter queries it needs and its formula."""

    queries: tuple[str, ...]
    compute: Callable[[Mapping[str, float]], float | None]
    kind: str = "share"  # share (0..1) | count | seconds | score


METRICS: dict[str, Metric] = {
    "contacts": Metric(("resolutions",), lambda c: c.get("contacts", 0.0), "count"),
    "csat": Metric(("ratings",), _ratio("ratings_good", "ratings")),
    "csat_average": Metric(("ratings",), _ratio("rating_sum", "ratings"), "score"),
    "csat_response_rate": Metric(("ratings", "prompts"), _ratio("ratings", "prompts")),
    "low_rating_rate": Metric(("ratings",), _ratio("ratings_low", "ratings")),
    "fcr": Metric(("repeats", "resolutions"), _complement("repeated", "resolved")),
    "fcr_bot": Metric(
        ("repeats", "resolutions"), _complement("repeated_bot_only", "resolved_bot_only")
    ),
    "fcr_agent": Metric(
        ("repeats", "resolutions"), _complement("repeated_agent", "resolved_agent")
    ),
    "containment": Metric(("resolutions",), _ratio("contained", "contacts")),
    "satisfied_containment": Metric(
        ("resolutions", "ratings", "unrated_contained_repeats"), _satisfied_containment
    ),
    "handoff_rate": Metric(("resolutions",), _ratio("handed_off", "contacts")),
    "abandon_rate": Metric(("resolutions",), _ratio("abandoned", "contacts")),
    "fallback_rate": Metric(("bot_turns", "fallbacks"), _ratio("fallbacks", "bot_turns")),
    "agent_first_response_seconds": Metric(
        ("first_responses",), _ratio("first_response_sum", "first_responses"), "seconds"
    ),
    "agent_handling_seconds": Metric(("handling",), _ratio("handling_sum", "handled"), "seconds"),
    "contact_seconds": Metric(("resolutions",), _ratio("duration_sum", "contacts"), "seconds"),
}

# The headline figures (the minimum and the dashboard's cards).
HEADLINE = (
    "contacts",
    "csat",
    "csat_response_rate",
    "fcr",
    "fcr_bot",
    "fcr_agent",
    "containment",
    "satisfied_containment",
    "handoff_rate",
    "fallback_rate",
    "agent_first_response_seconds",
    "agent_handling_seconds",
)


@dataclass(frozen=True)
class Filters:
    """Optional restrictions of a report to one channel, topic, language or agent."""

    channel: str | None = None
    topic: str | None = None
    language: str | None = None
    agent_id: int | None = None

    def conditions(self) -> list[ColumnElement[Any]]:
        """SQL conditions for the set filters."""
        out: list[ColumnElement[Any]] = []
        if self.channel:
            out.append(E.channel == self.channel)
        if self.topic:
            out.append(E.topic == self.topic)
        if self.language:
            out.append(E.language == self.language)
        if self.agent_id is not None:
            out.append(E.agent_id == self.agent_id)
        return out

    def public(self) -> dict[str, Any]:
        """The set filters as JSON."""
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


def queries_for(metric_names: Iterable[str]) -> list[str]:
    """The counter queries the given metrics need, in map order.

    Raises:
        KeyError: an unknown metric.
    """
    needed: set[str] = set()
    for name in metric_names:
        needed.update(METRICS[name].queries)
    return [q for q in QUERIES if q in needed]


def run_counters(
    session: Session,
    query_names: Iterable[str],
    first: date,
    last: date,
    window_days: float,
    filters: Filters,
) -> dict[CubeKey, Counters]:
    """Run counter queries and merge them into one cube keyed by the dimensions.

    Args:
        session: Open session.
        query_names: Keys of :data:`QUERIES`.
        first: First shop day (inclusive).
        last: Last shop day (inclusive).
        window_days: FCR window.
        filters: Restrictions.

    Returns:
        ``{(day, channel, topic, language, agent_id): {counter: value}}``.
    """
    window = window_days * DAY_SECONDS
    dims = [getattr(E, d) for d in DIMENSIONS]
    cube: dict[CubeKey, Counters] = {}
    connection = session.connection()  # Core rows: no ORM loading for plain aggregates
    width = len(DIMENSIONS)
    for query_name in query_names:
        query = QUERIES[query_name]
        counters = query.counters(window)
        stmt = (
            select(*dims, *(agg.label(name) for name, agg in counters.items()))
            .where(
                E.name == query.row,
                E.day >= first,
                E.day <= last,
                *filters.conditions(),
                *query.where(window),
            )
            .group_by(*dims)
        )
        names = list(counters)
        for row in connection.execute(stmt):
            key = tuple(row[:width])
            cell = cube.get(key)
            if cell is None:
                cell = cube[key] = {}
            for i, name in enumerate(names, start=width):
                cell[name] = cell.get(name, 0.0) + float(row[i] or 0)
    return cube


def handoff_reasons(session: Session, first: date, last: date, filters: Filters) -> dict[str, int]:
    """How many contacts were handed off for each reason."""
    rows = session.execute(
        select(E.label, func.count())
        .where(E.name == HANDOFF, E.day >= first, E.day <= last, *filters.conditions())
        .group_by(E.label)
    )
    return {str(label or "unknown"): int(n) for label, n in rows}


def compute(metric_names: Iterable[str], counters: Mapping[str, float]) -> dict[str, Any]:
    """Evaluate metrics over summed counters (rounded for display)."""
    out: dict[str, Any] = {}
    for name in metric_names:
        metric = METRICS[name]
        value = metric.compute(counters)
        if value is None:
            out[name] = None
        elif metric.kind == "count":
            out[name] = int(round(value))
        elif metric.kind == "seconds":
            out[name] = round(value, 1)
        else:
            out[name] = round(value, 4)
    return out
