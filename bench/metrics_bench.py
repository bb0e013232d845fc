"""Benchmark of the metric queries over a large generated history (a benchmark, not a test).

    .venv/bin/python bench/metrics_bench.py --contacts 300000 --days 90

Generates the history into a fresh SQLite file (or ``--database-url``), then times the
report the dashboard asks for (every metric, every slice, and the previous period) over
the last 7, 30 and 90 days, one metric alone, a filtered report and the low-ratings
list, and shows SQLite's plan of each counter query (they must use ``ix_ce_report``).
The numbers go into docs/metrics.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.demo_history import Plan, Stats, generate  # noqa: E402
from bot.metrics.models import Contact, ContactEvent  # noqa: E402
from bot.metrics.queries import DIMENSIONS, QUERIES, Filters  # noqa: E402
from bot.metrics.reader import ReportReader  # noqa: E402
from bot.metrics.report import build_report  # noqa: E402
from bot.metrics.store import ContactStore  # noqa: E402
from bot.store.db import Database  # noqa: E402

OFFSET = timedelta(hours=8)
END = date(2026, 11, 25)


def timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and best wall time in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


def plans(db: Database, first: date, last: date) -> dict[str, str]:
    """SQLite's query plan of each counter query."""
    from sqlalchemy.dialects import sqlite

    E = ContactEvent
    out = {}
    dims = [getattr(E, d) for d in DIMENSIONS]
    for name, query in QUERIES.items():
        counters = query.counters(7 * 86400)
        stmt = (
            select(*dims, *(agg.label(n) for n, agg in counters.items()))
            .where(E.name == query.row, E.day >= first, E.day <= last, *query.where(7 * 86400))
            .group_by(*dims)
        )
        sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))

        def explain(session: Session, sql: str = sql) -> str:
            rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
            return " | ".join(str(r[-1]) for r in rows)

        out[name] = db.run_sync(explain)
    return out


def main() -> int:
    """Run the benchmark; prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="use (and keep) this database")
    parser.add_argument("--no-transcripts", action="store_true")
    parser.add_argument(
        "--reuse", action="store_true", help="time the queries on --database-url as it is"
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="metrics-bench-")
    url = args.database_url or f"sqlite:///{workdir}/gateway.db"
    db = Database(url)
    print(f"database: {url}")
    if args.reuse:
        stats = Stats()
    else:
        stats = generate(
            db,
            Plan(
                days=args.days,
                contacts=args.contacts,
                seed=7,
                end=END,
                utc_offset=OFFSET,
                transcripts=not args.no_transcripts,
            ),
        )
    rows = db.run_sync(lambda s: s.execute(select(func.count()).select_from(ContactEvent)).scalar())
    contacts = db.run_sync(lambda s: s.execute(select(func.count()).select_from(Contact)).scalar())
    size = Path(url.removeprefix("sqlite:///")).stat().st_size if url.startswith("sqlite") else 0
    if stats.seconds:
        print(
            f"generated {stats.contacts} contacts, {stats.messages} messages, {stats.events} "
            f"metric rows in {stats.seconds:.1f}s ({stats.contacts / stats.seconds:,.0f} "
            "contacts/s)"
        )
    print(f"tables: {contacts} contacts, {rows} contact_events; file {size / 1e6:.0f} MB")

    reader = ReportReader(db)

    def report(days: int, **kwargs: object) -> Callable[[], object]:
        first = END - timedelta(days=days - 1)

        def work() -> object:
            result = reader.run_sync(
                lambda s: build_report(
                    s,
                    first,
                    END,
                    window_days=7,
                    today=END,
                    **kwargs,  # type: ignore[arg-type]
                )
            )
            return json.dumps(result.public())

        return work

    contact_store = ContactStore(db)

    def low_ratings() -> object:
        import asyncio

        return asyncio.run(contact_store.low_ratings(END - timedelta(days=29), END, OFFSET, 15))

    cases = [
        ("dashboard: all metrics + slices + previous period, 7 days", report(7, compare=True)),
        ("dashboard: all metrics + slices + previous period, 30 days", report(30, compare=True)),
        ("dashboard: all metrics + slices + previous period, 90 days", report(90, compare=True)),
        ("all metrics, 90 days, no comparison", report(90)),
        ("CSAT only, 90 days", report(90, metric_names=["csat"])),
        ("FCR only, 90 days", report(90, metric_names=["fcr"])),
        ("all metrics, 30 days, channel=wechat", report(30, filters=Filters(channel="wechat"))),
        ("latest 15 low ratings, 30 days", low_ratings),
    ]
    report(7)()  # warm the page cache
    print()
    print(f"| query ({contacts:,} contacts, {rows:,} rows) | median ms | best ms |")
    print("|---|---:|---:|")
    for label, work in cases:
        median, best = timed(work, args.repeat)
        print(f"| {label} | {median:.0f} | {best:.0f} |")
    print()
    print("query plans (last 30 days):")
    for name, plan in plans(db, END - timedelta(days=29), END).items():
        print(f"  {name}: {plan}")
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    reader.dispose()
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
