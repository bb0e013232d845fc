"""`make bench`: the full system against a bare Rasa baseline, side by side.

    python -m bench.run [--levels 1,5,20] [--duration 30] [--rasa-replicas 1,2]

1. PostgreSQL and Redis (deploy/services.sh, data in var/bench/services), the shop database
   grown to a realistic size (`--extra-customers`, default 10,000: about 100,000 orders).
2. The baseline model (bench/baseline.py: same NLU, rule responses only), trained once.
3. For the baseline (a bare `rasa run`, REST channel, no actions, no gateway) and for the
   production profile with each number of Rasa servers: the load generator (its own
   process, bench/loadgen.py) at each concurrency level, while the peak memory of every
   process is sampled.
4. The query plans of the hottest shop-data queries (pg_stat_statements, generic plans).
5. docs/benchmarks.md (machine, commit, date, tables, ratios) and var/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.baseline import build_baseline_model
from bench.proc import snapshot
from bench.report import PATCHED_BARE, TARGET_LEVEL
from bench.scenarios import dump, plan, sample_customers
from deploy.stack import (
    ROOT,
    Profile,
    Services,
    children,
    free_port,
    read_proc_kb,
    start_profile,
    start_services,
    wait_http,
)

WORK = ROOT / "var" / "bench"
TOKEN_SECRET = "bench-customer-token-secret-0123456789abcdef"
PG_STATS = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top"


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pss_kb(pid: int) -> int:
    """Proportional set size of a process (shared pages split between their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


@dataclass
class MemorySampler:
    """Samples memory every half second: per process VmHWM, per group the peak PSS sum."""

    groups: Callable[[], dict[str, list[int]]]
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        for name, pids in self.groups().items():
            if len(pids) == 1:
                value = read_proc_kb(pids[0], "VmHWM") or 0
            else:
                value = sum(pss_kb(pid) for pid in pids)
            self.peaks[name] = max(self.peaks.get(name, 0), value)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.5)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()


def with_children(pid: int | None) -> list[int]:
    """A process and its direct children (nginx workers, PostgreSQL backends)."""
    if pid is None:
        return []
    return [pid, *children(pid)]


def pidfile(path: Path) -> int | None:
    """The pid on the first line of a pid file."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def profile_groups(profile: Profile, services: Services) -> dict[str, list[int]]:
    """Every process of the production profile, for memory and CPU accounting: nginx and
    PostgreSQL as groups (their first process, then its children: workers, backends)."""
    groups = {name: [pid] for name, pid in profile.pids().items() if name != "nginx"}
    groups["nginx (master + workers)"] = with_children(profile.pids().get("nginx"))
    groups["postgres (all backends)"] = with_children(
        pidfile(services.directory / "pg" / "postmaster.pid"))
    redis_pid = pidfile(services.directory / "redis" / "redis.pid")
    if redis_pid:
        groups["redis"] = [redis_pid]
    return groups


def loadgen_command(
    target: str, url: str, scenarios: Path, level: int, warmup: float, duration: float,
    out: Path,
) -> list[str]:
    """The load generator's command line (bench/loadgen.py)."""
    command = [
        sys.executable, "-m", "bench.loadgen", "--target", target, "--url", url,
        "--scenarios", str(scenarios), "--concurrency", str(level),
        "--warmup", str(warmup), "--duration", str(duration), "--out", str(out),
    ]
    if target == "gateway":
        command += ["--token-secret", TOKEN_SECRET]
    return command


def run_load(
    target: str, url: str, scenarios: Path, level: int, args: argparse.Namespace, tag: str,
    groups: Callable[[], dict[str, list[int]]] | None = None,
) -> dict[str, Any]:
    """Runs the load generator process once and returns its summary.

    With `groups`, also the CPU each group of processes spent per answered turn during the
    measured window (`cpu_ms_per_turn`; the window starts after the warm-up and ends when
    the generator has finished its last turn).
    """
    out = WORK / f"load-{tag}-{level}.json"
    command = loadgen_command(target, url, scenarios, level, args.warmup, args.duration, out)
    load = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(args.warmup)
    before = snapshot(groups()) if groups else {}
    if load.wait() != 0:
        raise subprocess.CalledProcessError(load.returncode, command)
    after = snapshot(groups()) if groups else {}
    result: dict[str, Any] = json.loads(out.read_text())
    if result["turns"] and after:
        result["cpu_ms_per_turn"] = {
            name: (after[name] - before.get(name, 0.0)) / result["turns"] for name in after
        }
    log(
        f"{tag} K={level}: p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
        f"{result['throughput_tps']:.1f} turns/s, {result['errors']} errors"
    )
    return result


def bench_baseline(
    model: Path,
    scenarios: Path,
    args: argparse.Namespace,
    name: str = "baseline",
    patched: bool = False,
) -> dict[str, Any]:
    """A bare `rasa run` (REST channel, in-memory tracker, no action server); `patched`:
    started as the project starts Rasa, with deploy/rasa_patches installed."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    endpoints = WORK / "baseline-endpoints.yml"  # no action server; in-memory stores
    endpoints.write_text("lock_store:\n  type: in_memory\n")
    with (WORK / "baseline-rasa.log").open("w") as handle:
        rasa = [sys.executable, "-m", "deploy.rasa_main"] if patched else [
            str(Path(sys.executable).parent / "rasa")
        ]
        process = subprocess.Popen(
            [*rasa, "run", "--model", str(model),
             "--port", str(port), "--interface", "127.0.0.1", "--credentials",
             "credentials.yml", "--endpoints", str(endpoints)],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/", 600, process)  # no HTTP API on the bare server
        results = []
        with MemorySampler(lambda: {"rasa (bare)": [process.pid]}) as memory:
            for level in args.levels:
                results.append(run_load("rasa", url, scenarios, level, args, name,
                                        lambda: {"rasa (bare)": [process.pid]}))
        return {"name": name, "levels": results, "memory_kb": memory.peaks}
    finally:
        process.terminate()
        process.wait(timeout=60)


def trained_model() -> str:
    """The project's model, trained first if its inputs changed (scripts/train.py)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py")], cwd=ROOT, check=True,
        stdout=subprocess.PIPE, text=True,
    ).stdout.strip().splitlines()[-1]


def start_bench_profile(
    services: Services, work_dir: Path, replicas: int, gateways: int, model: str
) -> Profile:
    """The production profile as the benchmark runs it (always open, warnings-only logs)."""
    return start_profile(
        services, work_dir, rasa_replicas=replicas, gateway_replicas=gateways,
        model=model, seed="no",
        extra_env={"CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
                   "AGENT_SESSION_SECRET": "bench-agent-session-secret",
                   "SERVICE_HOURS": "00:00-24:00", "LOG_LEVEL": "WARNING"},
        ready_timeout=900,
    )


def bench_profile(
    services: Services, model: str, replicas: int, scenarios: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """The production profile with `replicas` Rasa servers, through the gateway."""
    tag = f"prod-{replicas}rasa"
    log(f"starting the production profile ({replicas} Rasa, {args.gateways} gateway)")
    profile = start_bench_profile(services, WORK / tag, replicas, args.gateways, model)
    try:
        results = []
        with MemorySampler(lambda: profile_groups(profile, services)) as memory:
            for level in args.levels:
                results.append(run_load("gateway", profile.gateway_url, scenarios, level,
                                        args, tag, lambda: profile_groups(profile, services)))
        # Where the time goes: the same load at the Rasa servers directly (the real model,
        # actions, SQL tracker store and Redis lock store, but no gateway).
        direct = []
        if replicas == 1:
            for level in args.direct_levels:
                direct.append(run_load("rasa", profile.rasa_url, scenarios, level, args,
                                       f"{tag}-direct"))
        return {"name": tag, "replicas": replicas, "levels": results, "direct": direct,
                "memory_kb": memory.peaks}
    finally:
        profile.stop()


def admin_psql(services: Services, database: str, sql: str) -> str:
    """Runs SQL as the cluster's superuser over the local socket."""
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-h", str(services.directory / "pg"),
         "-p", str(services.pg_port), "-U", "postgres", "-d", database, "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return result.stdout


def empty_conversation_databases(services: Services) -> None:
    """Drops and recreates the gateway's and Rasa's databases.

    Conversations left by earlier runs would otherwise go quiet and be swept (closed) by
    the gateway during the measured window, work that a fresh shop does not have.
    """
    for database in ("gateway", "rasa"):
        admin_psql(services, "postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin_psql(services, "postgres", f"CREATE DATABASE {database} OWNER shop")


def hot_query_plans(services: Services, limit: int = 8) -> list[dict[str, Any]]:
    """Generic plans of the most frequent shop-data SELECTs seen during the run."""
    engine = create_engine(services.psql_url("shop"), future=True)
    plans = []
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT s.query, s.calls, s.mean_exec_time FROM pg_stat_statements s"
                    " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'shop'"
                    " AND s.query ~* '^\\s*select' AND s.query ~* '\\mfrom\\M'"
                    " ORDER BY s.calls DESC LIMIT :n"
                ),
                {"n": limit},
            ).all()
            for query, calls, mean_ms in rows:
                params = len(set(re.findall(r"\$(\d+)", query)))
                entry: dict[str, Any] = {"query": query, "calls": calls, "mean_ms": mean_ms}
                try:
                    connection.execute(text("SET plan_cache_mode = force_generic_plan"))
                    connection.exec_driver_sql(f"PREPARE hot AS {query}")
                    args = ", ".join(["NULL"] * params)
                    execute = f"EXECUTE hot({args})" if params else "EXECUTE hot"
                    lines = connection.exec_driver_sql(f"EXPLAIN {execute}").scalars().all()
                    entry["plan"] = list(lines)
                except Exception as exc:  # noqa: BLE001 - report, never fail the benchmark
                    entry["plan_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                    connection.rollback()
                finally:
                    connection.exec_driver_sql("DEALLOCATE ALL")
                plans.append(entry)
    finally:
        engine.dispose()
    return plans


def grow_shop_database(services: Services, extra_customers: int) -> dict[str, int]:
    """Seeds the shop database at the benchmark size unless it already is; returns counts."""
    url = services.env["DATABASE_URL"]
    engine = create_engine(url, future=True)

    def counts() -> dict[str, int]:
        with engine.connect() as connection:
            result = {}
            for table in ("customers", "orders", "shipments", "tracking_events"):
                try:
                    result[table] = int(
                        connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                    )
                except Exception:  # noqa: BLE001 - not seeded yet
                    connection.rollback()
                    result[table] = 0
            return result

    try:
        current = counts()
        if current["customers"] < extra_customers:
            log(f"seeding the shop database with {extra_customers} extra customers")
            subprocess.run(
                [sys.executable, "-m", "actions.shop.seed", "--force", "--url", url,
                 "--extra-customers", str(extra_customers)],
                cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            current = counts()
        return current
    finally:
        engine.dispose()


def machine() -> dict[str, str]:
    """What this ran on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = read_proc_kb_meminfo()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def read_proc_kb_meminfo() -> int:
    """Total memory in kB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def load_average() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Load benchmark: full system vs bare Rasa")
    parser.add_argument("--levels", default="1,5,20")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rasa-replicas", default="1,2")
    parser.add_argument("--direct-levels", default="1,20",
                        help="levels also run at the Rasa servers directly (1 Rasa server)")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--extra-customers", type=int, default=10000)
    parser.add_argument("--conversations", type=int, default=4000)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--patched-bare", action="store_true",
                        help="also bare Rasa with the project's Rasa patches, at K=20")
    parser.add_argument("--model", default=None, help="a trained model (default: train.py's)")
    parser.add_argument("--baseline-model", default=None, help="default: bench/baseline.py's")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    # A terminated benchmark still stops what it started (the `finally` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.levels = [int(v) for v in args.levels.split(",")]
    args.direct_levels = [int(v) for v in args.direct_levels.split(",") if v]
    replicas = [int(v) for v in args.rasa_replicas.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    if float(load_before.split()[0]) > 1.5:
        log(f"warning: the machine is busy (load {load_before}); numbers will be noisy")

    from bench.report import write_report

    os.environ["PG_EXTRA_OPTS"] = PG_STATS
    services = start_services(WORK / "services")
    try:
        admin_psql(services, "shop", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        empty_conversation_databases(services)
        sizes = grow_shop_database(services, args.extra_customers)
        log(f"shop database: {sizes}")
        customers = sample_customers(services.env["DATABASE_URL"], 500)
        scenarios = WORK / "scenarios.jsonl"
        scenarios.write_text(dump(plan(customers, args.conversations)), encoding="utf-8")
        model = args.model or trained_model()
        runs = []
        baseline_model = None
        if not args.skip_baseline:
            log("building the baseline model (trained once per input change)")
            baseline_model = (
                Path(args.baseline_model)
                if args.baseline_model
                else build_baseline_model(WORK / "baseline-train.log")
            )
            log(f"baseline: {baseline_model.name}")
            runs.append(bench_baseline(baseline_model, scenarios, args))
        admin_psql(services, "shop", "SELECT pg_stat_statements_reset()")
        for count in replicas:
            runs.append(bench_profile(services, model, count, scenarios, args))
        if baseline_model is not None:
            # The machine is shared: the baseline once more after the system, so that drift
            # in between shows, and the ratios use the mean of both (bench/report.py).
            runs.append(bench_baseline(baseline_model, scenarios, args, "baseline-after"))
            if args.patched_bare:
                at_target = argparse.Namespace(**{**vars(args), "levels": [TARGET_LEVEL]})
                runs.append(bench_baseline(baseline_model, scenarios, at_target,
                                           PATCHED_BARE, patched=True))
        plans = hot_query_plans(services)
    finally:
        services.stop()
    results = {
        "machine": machine(),
        "load_before": load_before,
        "load_after": load_average(),
        "settings": {"levels": args.levels, "duration_s": args.duration,
                     "warmup_s": args.warmup, "gateways": args.gateways,
                     "model": Path(model).name},
        "database": sizes,
        "runs": runs,
        "query_plans": plans,
    }
    (WORK / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    Path(args.out).write_text(write_report(results), encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
