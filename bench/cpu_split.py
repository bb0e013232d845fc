"""Where a message's CPU goes: CPU milliseconds per answered turn, per process group.

    python -m bench.cpu_split [--rasa-replicas 2] [--concurrency 20] [--duration 30]

Runs the production profile on the benchmark's services (var/bench/services; run
`make bench` once first for the grown shop database and the scenarios), drives it with the
load generator and reads every process's user+system CPU time from /proc before and after
the measured window. The baseline figure to compare with is a bare Rasa turn (~11 ms on
these machines, docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.proc import snapshot, thread_cpu_ms
from bench.run import (
    PG_STATS,
    WORK,
    admin_psql,
    empty_conversation_databases,
    loadgen_command,
    profile_groups,
    start_bench_profile,
    trained_model,
)
from deploy.stack import ROOT, Services, start_services

_STATEMENTS = (
    "SELECT d.datname, s.calls, s.total_plan_time + s.total_exec_time,"
    " regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s"
    " JOIN pg_database d ON d.oid = s.dbid ORDER BY 3 DESC LIMIT {n}"
)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-replicas", type=int, default=2)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--py-spy", action="append", default=[], metavar="PROCESS",
                        help="also sample PROCESS (e.g. gateway-0) with py-spy into "
                             "var/bench/cpu-split-PROCESS.txt (collapsed stacks)")
    parser.add_argument("--threads", action="append", default=[], metavar="PROCESS",
                        help="also split PROCESS's CPU by thread name")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="also list the N SQL statements with the most PostgreSQL time "
                             "in the window (calls and time per turn)")
    parser.add_argument("--redis", action="store_true",
                        help="also list the Redis commands per turn in the window")
    args = parser.parse_args()
    scenarios = WORK / "scenarios.jsonl"
    if not scenarios.exists():
        sys.exit("no var/bench/scenarios.jsonl: run `make bench` once first")
    model = args.model or trained_model()
    os.environ["PG_EXTRA_OPTS"] = f"{PG_STATS} -c pg_stat_statements.track_planning=on"
    services = start_services(WORK / "services")
    statements = commands = ""
    try:
        empty_conversation_databases(services)
        profile = start_bench_profile(
            services, WORK / "cpu-split", args.rasa_replicas, args.gateways, model
        )
        try:
            out = WORK / "cpu-split-load.json"
            command = loadgen_command("gateway", profile.gateway_url, scenarios,
                                      args.concurrency, 0, args.warmup + args.duration, out)
            load = subprocess.Popen(command, cwd=ROOT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
            time.sleep(args.warmup)

            def groups() -> dict[str, list[int]]:  # afresh: PostgreSQL backends come and go
                return {**profile_groups(profile, services), "load generator": [load.pid]}

            spies = [
                subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                  "--pid", str(profile.pid(name)), "--duration",
                                  str(int(args.duration)), "--format", "raw", "--output",
                                  str(WORK / f"cpu-split-{name}.txt"), "--nonblocking", "--gil"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for name in args.py_spy
            ]
            threads_before = {name: thread_cpu_ms(profile.pid(name)) for name in args.threads}
            if args.statements:
                admin_psql(services, "shop", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                admin_psql(services, "shop", "SELECT pg_stat_statements_reset()")
            if args.redis:
                _redis_cli(services, "CONFIG", "RESETSTAT")
            before, started = snapshot(groups()), time.monotonic()
            time.sleep(args.duration)
            after, elapsed = snapshot(groups()), time.monotonic() - started
            if args.statements:
                statements = admin_psql(services, "shop", _STATEMENTS.format(n=args.statements))
            commands = _redis_cli(services, "INFO", "commandstats") if args.redis else ""
            threads_after = {name: thread_cpu_ms(profile.pid(name)) for name in args.threads}
            load.wait()
            for spy in spies:
                spy.wait()
            summary = json.loads(out.read_text())
        finally:
            profile.stop()
    finally:
        services.stop()
    # The generator counts every turn of its whole run; scale to the measured window.
    turns = summary["throughput_tps"] * elapsed
    print(f"{summary['throughput_tps']:.1f} turns/s, p50 {summary['p50_ms']:.0f} ms, "
          f"p95 {summary['p95_ms']:.0f} ms, errors {summary['errors']}")
    total = 0.0
    for name in sorted(after):
        used = after[name] - before.get(name, 0.0)
        total += used
        print(f"{name:16} {used / turns:6.1f} ms/turn  {used / elapsed / 10:5.1f}% of a core")
    print(f"{'total':16} {total / turns:6.1f} ms/turn  {total / elapsed / 10:5.1f}% of a core")
    if statements:
        print("PostgreSQL statements (database | calls | plan+exec ms | query):")
        for line in statements.splitlines():
            database, calls, ms, query = line.split("|", 3)
            per_turn = f"{float(calls) / turns:5.2f}/turn {float(ms) / turns:6.3f} ms/turn"
            print(f"  {database:8} {per_turn}  {query[:110]}")
    if commands:
        print("Redis commands (calls/turn, µs of Redis CPU/turn):")
        for line in commands.splitlines():
            if line.startswith("cmdstat_"):
                name, _, fields = line.partition(":")
                stats = dict(field.split("=") for field in fields.split(","))
                print(f"  {name[8:]:16} {int(stats['calls']) / turns:6.2f}/turn "
                      f"{int(stats['usec']) / turns:7.1f} µs/turn")
    for name, threads in threads_after.items():
        for thread, used in sorted(threads.items(), key=lambda item: -item[1]):
            share = used - threads_before[name].get(thread, 0.0)
            if share / turns >= 0.05:
                print(f"  {name} thread {thread:18} {share / turns:6.2f} ms/turn")


def _redis_cli(services: Services, *command: str) -> str:
    """Runs one command on the benchmark's Redis."""
    return subprocess.run(["redis-cli", "-p", str(services.redis_port), *command],
                          check=True, capture_output=True, text=True).stdout


if __name__ == "__main__":
    main()
