"""Command-line reports and the demo history (subcommands of ``python -m bot.cli``).

``metrics --from 2026-01-01 --to 2026-01-31 [--csv FILE]`` prints the report as tables
(and writes every slice as CSV); ``demo-history --days 90 --contacts 300000`` fills the
gateway database with a generated history.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bot.demo_history import HistoryExists, Plan, generate
from bot.metrics import models as _models  # noqa: F401 - registers the tables
from bot.metrics.queries import METRICS, Filters
from bot.metrics.reader import ReportReader
from bot.metrics.report import RangeError, build_report, parse_day, resolve_range, shop_today
from bot.metrics.settings import MetricsSettings
from bot.settings import Settings
from bot.store.db import Database


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``metrics`` and ``demo-history`` to the CLI's subcommands."""
    report = commands.add_parser("metrics", help="print contact metrics; optionally as CSV")
    report.add_argument("--from", dest="first", help="first day YYYY-MM-DD (default: 30 days)")
    report.add_argument("--to", dest="last", help="last day YYYY-MM-DD (default: today)")
    report.add_argument("--csv", type=Path, help="also write every slice to this CSV file")
    report.add_argument("--fcr-days", type=float, help="FCR window (default FCR_WINDOW_DAYS)")
    report.add_argument("--channel")
    report.add_argument("--topic")
    report.add_argument("--language")
    report.add_argument("--agent", type=int, help="agent id")
    report.add_argument(
        "--metric", action="append", choices=sorted(METRICS), help="only these (repeatable)"
    )
    report.add_argument(
        "--no-compare", action="store_true", help="skip the previous period's figures"
    )
    history = commands.add_parser("demo-history", help="generate a demo history of contacts")
    history.add_argument("--days", type=int, default=90)
    history.add_argument("--contacts", type=int, default=20_000)
    history.add_argument("--seed", type=int, default=7)
    history.add_argument("--end", help="last day YYYY-MM-DD (default: today, shop time)")
    history.add_argument(
        "--no-transcripts", action="store_true", help="contacts and metrics rows only"
    )


def _metrics(args: argparse.Namespace, settings: Settings) -> int:
    metrics_settings = MetricsSettings.from_env(settings.service_hours.utc_offset)
    try:
        first, last = resolve_range(
            parse_day(args.first, "from"), parse_day(args.last, "to"), metrics_settings.utc_offset
        )
    except RangeError as exc:
        print(exc, file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    reader = ReportReader(db)
    try:
        db.create_schema()
        report = reader.run_sync(
            lambda session: build_report(
                session,
                first,
                last,
                window_days=args.fcr_days or metrics_settings.fcr_window_days,
                filters=Filters(args.channel, args.topic, args.language, args.agent),
                metric_names=args.metric,
                compare=not args.no_compare,
                today=shop_today(metrics_settings.utc_offset),
            )
        )
    finally:
        reader.dispose()
        db.dispose()
    print(report.table())
    if args.csv:
        with args.csv.open("w", encoding="utf-8", newline="") as out:
            report.write_csv(out)
        print(f"\nwrote {args.csv}")
    return 0


def _history(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 1 or args.contacts < 1:
        print("--days and --contacts must be positive", file=sys.stderr)
        return 2
    offset = settings.service_hours.utc_offset
    try:
        end = parse_day(args.end, "end") or shop_today(offset)
    except RangeError as exc:
        print(exc, file=sys.stderr)
        return 2
    plan = Plan(
        days=args.days,
        contacts=args.contacts,
        seed=args.seed,
        end=end,
        utc_offset=offset,
        transcripts=not args.no_transcripts,
    )
    db = Database(settings.database_url)
    try:
        stats = generate(db, plan)
    except HistoryExists as exc:
        print(f"{exc}; use another --seed or a fresh database", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    first = end - timedelta(days=args.days - 1)
    print(
        f"generated {stats.contacts} contacts ({stats.repeats} repeats, {stats.ratings} "
        f"ratings, {stats.handoffs} handoffs) in {stats.conversations} conversations, "
        f"{stats.messages} messages, {stats.events} metric rows, {first}..{end}, "
        f"in {stats.seconds:.1f}s"
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "metrics": _metrics,
    "demo-history": _history,
}


def run(args: argparse.Namespace, settings: Settings) -> int | None:
    """Run one of these commands; None if ``args.command`` is not one of them."""
    command = COMMANDS.get(args.command)
    return command(args, settings) if command else None
