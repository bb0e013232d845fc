"""Turns the benchmark's results into docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

TARGET_LEVEL = 20
TARGET_MEDIAN_RATIO = 1.5
TARGET_THROUGHPUT_SHARE = 0.70


# Stock bare Rasa with deploy/rasa_patches installed: how much of the system's gain over
# stock Rasa comes from patches that also speed up work the baseline does.
PATCHED_BARE = "bare-patched"


def _fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:.{digits}f}"


def _label(run: dict[str, Any]) -> str:
    if run["name"] == "baseline":
        return "bare Rasa (baseline)"
    if run["name"] == "baseline-after":
        return "bare Rasa (baseline, run again last)"
    if run["name"] == PATCHED_BARE:
        return "bare Rasa with the project's Rasa patches (not a baseline)"
    count = run["replicas"]
    return f"full system, {count} Rasa server{'s' if count > 1 else ''}"


def _by_level(run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(item["concurrency"]): item for item in run["levels"]}


def _is_baseline(run: dict[str, Any]) -> bool:
    return str(run["name"]).startswith("baseline")


def _baseline(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reference for the ratios: the bare-Rasa run, or, when it was run twice (before
    and after the system, on a shared machine), the mean median and throughput of both."""
    runs = [r for r in runs if _is_baseline(r)]
    if len(runs) < 2:
        return runs[0] if runs else None
    levels = []
    for level, first in _by_level(runs[0]).items():
        other = _by_level(runs[1]).get(level)
        if other is None:
            continue
        levels.append({
            "concurrency": level,
            "p50_ms": (first["p50_ms"] + other["p50_ms"]) / 2,
            "throughput_tps": (first["throughput_tps"] + other["throughput_tps"]) / 2,
        })
    return {"name": "baseline-mean", "levels": levels}


def _ratios(item: dict[str, Any], ref: dict[str, Any]) -> tuple[float, float]:
    """(median ÷ baseline's median, throughput ÷ baseline's throughput) at one level."""
    return item["p50_ms"] / ref["p50_ms"], item["throughput_tps"] / ref["throughput_tps"]


def latency_table(runs: list[dict[str, Any]]) -> list[str]:
    """One row per concurrency level and system, with ratios to the baseline."""
    baseline = _baseline(runs)
    base = _by_level(baseline) if baseline else {}
    lines = [
        "| customers (K) | system | p50 ms | p95 ms | p99 ms | turns/s | errors "
        "| p50 ÷ baseline | turns/s ÷ baseline |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    levels = sorted({level for run in runs for level in _by_level(run)})
    for level in levels:
        for run in runs:
            item = _by_level(run).get(level)
            if item is None:
                continue
            ref = base.get(level)
            median_ratio = tput_ratio = "–"
            if ref and not _is_baseline(run):
                median, share = _ratios(item, ref)
                median_ratio, tput_ratio = f"{median:.2f}×", f"{share:.0%}"
            lines.append(
                f"| {level} | {_label(run)} | {_fmt(item['p50_ms'])} | {_fmt(item['p95_ms'])} "
                f"| {_fmt(item['p99_ms'])} | {_fmt(item['throughput_tps'], 1)} "
                f"| {item['errors']} | {median_ratio} | {tput_ratio} |"
            )
    return lines


def target_lines(runs: list[dict[str, Any]]) -> list[str]:
    """The issue's targets at 20 customers, met or not, per configuration."""
    baseline = _baseline(runs)
    ref = _by_level(baseline).get(TARGET_LEVEL) if baseline else None
    if not ref:
        return [f"(no baseline run at K={TARGET_LEVEL})"]
    lines = []
    for run in runs:
        item = _by_level(run).get(TARGET_LEVEL)
        if _is_baseline(run) or item is None:
            continue
        median, share = _ratios(item, ref)
        if run["name"] == PATCHED_BARE:
            lines.append(
                f"- for comparison, {_label(run)}: median {median:.2f}× the baseline's, "
                f"throughput {share:.0%} of it (the patches also speed up work the "
                "baseline does: the model graph runner, the rule lookup)."
            )
            continue
        lines.append(
            f"- {_label(run)}: median {median:.2f}× the baseline's "
            f"({'met' if median <= TARGET_MEDIAN_RATIO else 'NOT met'}, target ≤ "
            f"{TARGET_MEDIAN_RATIO}×); throughput {share:.0%} of the baseline's "
            f"({'met' if share >= TARGET_THROUGHPUT_SHARE else 'NOT met'}, target ≥ "
            f"{TARGET_THROUGHPUT_SHARE:.0%})."
        )
    return lines


def breakdown_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Baseline, the real Rasa without the gateway, and the full system, per level."""
    baseline = _baseline(runs)
    single = next((r for r in runs if r.get("replicas") == 1 and r.get("direct")), None)
    if not baseline or not single:
        return ["(not measured in this run)"]
    base, full = _by_level(baseline), _by_level(single)
    lines = [
        "| K | bare Rasa (baseline, mean) | real bot on Rasa, no gateway | full system |",
        "|---:|---:|---:|---:|",
    ]
    for item in single["direct"]:
        level = int(item["concurrency"])
        cells = []
        for source in (base.get(level), item, full.get(level)):
            if source is None:
                cells.append("–")
            else:
                cells.append(
                    f"{_fmt(source['p50_ms'])} ms, {_fmt(source['throughput_tps'], 1)}/s"
                )
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    return lines


def cpu_table(runs: list[dict[str, Any]], level: int = TARGET_LEVEL) -> list[str]:
    """CPU per answered turn of each process at one level, one column per configuration."""
    measured = [
        (run, _by_level(run)[level]["cpu_ms_per_turn"])
        for run in runs
        if "cpu_ms_per_turn" in _by_level(run).get(level, {})
    ]
    if not measured:
        return ["(not measured in this run)"]
    names: list[str] = []
    for _, cpu in measured:
        names += [name for name in cpu if name not in names]
    lines = [
        "| process | " + " | ".join(_label(run) for run, _ in measured) + " |",
        "|---|" + "---:|" * len(measured),
    ]
    for name in names:
        cells = [f"{cpu[name]:.1f} ms" if name in cpu else "–" for _, cpu in measured]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(cpu.values()):.1f} ms**" for _, cpu in measured]
    lines.append("| **total** | " + " | ".join(totals) + " |")
    return lines


def memory_table(runs: list[dict[str, Any]]) -> list[str]:
    """Peak memory of each process, one column per configuration."""
    names: list[str] = []
    for run in runs:
        for name in run["memory_kb"]:
            if name not in names:
                names.append(name)
    loadgen = {run["name"]: max(i["loadgen_peak_rss_kb"] for i in run["levels"]) for run in runs}
    header = "| process | " + " | ".join(_label(run) for run in runs) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    for name in names:
        cells = [
            f"{run['memory_kb'][name] / 1024:.0f} MiB" if name in run["memory_kb"] else "–"
            for run in runs
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(run['memory_kb'].values()) / 1024:.0f} MiB**" for run in runs]
    lines.append("| **total of the served side** | " + " | ".join(totals) + " |")
    cells = [f"{loadgen[run['name']] / 1024:.0f} MiB" for run in runs]
    lines.append("| load generator (own process) | " + " | ".join(cells) + " |")
    return lines


def plan_lines(plans: list[dict[str, Any]]) -> list[str]:
    """Hot queries and their generic plans."""
    if not plans:
        return ["(pg_stat_statements recorded no shop-data SELECTs)"]
    lines = []
    for number, entry in enumerate(plans, 1):
        query = " ".join(str(entry["query"]).split())
        if len(query) > 400:
            query = query[:400] + " …"
        lines.append(
            f"{number}. {entry['calls']} calls, {entry['mean_ms']:.2f} ms mean: `{query}`"
        )
        plan = entry.get("plan")
        if plan:
            seq = any("Seq Scan" in line for line in plan)
            lines.append(f"   - {'**sequential scan**' if seq else 'index-backed'}")
            lines.append("")
            lines.append("   ```")
            lines.extend(f"   {line}" for line in plan[:12])
            lines.append("   ```")
        else:
            lines.append(f"   - plan not available: {entry.get('plan_error')}")
    return lines


def write_report(results: dict[str, Any]) -> str:
    """The whole markdown document."""
    machine = results["machine"]
    settings = results["settings"]
    db = results["database"]
    runs = results["runs"]
    errors = [
        f"- {_label(run)}, K={item['concurrency']}: {sample}"
        for run in runs
        for item in run["levels"]
        for sample in item.get("error_samples", [])[:2]
    ]
    parts = [
        "# Load benchmark: the full system against bare Rasa",
        "",
        "Generated by `make bench` (`python -m bench.run`); do not edit by hand. What the "
        "profiles showed, what was changed and what is left: `docs/performance.md`.",
        "",
        f"- **Machine**: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, "
        f"{machine['os']}, Python {machine['python']}",
        f"- **Commit**: {machine['commit']}; **date**: {machine['date']}",
        f"- **Load average** before / after: {results['load_before']} / "
        f"{results['load_after']} (the machine is shared: other work adds noise)",
        f"- **Run**: {settings['duration_s']:.0f} s measured after {settings['warmup_s']:.0f} s "
        f"warm-up per level; concurrency levels {settings['levels']}; "
        f"{settings['gateways']} gateway instance(s); model `{settings['model']}`",
        f"- **Shop database** (PostgreSQL): {db.get('customers')} customers, "
        f"{db.get('orders')} orders, {db.get('shipments')} shipments, "
        f"{db.get('tracking_events')} tracking events",
        "",
        "**Full system** = `scripts/run_prod.sh`: nginx → gateway (PostgreSQL) → nginx → Rasa "
        "server(s) (SQL tracker store on PostgreSQL, Redis lock store) → action server "
        "(shop data on PostgreSQL). **Baseline** = one bare `rasa run` with the same NLU "
        "pipeline and NLU data, rule responses only (custom actions replaced by one fixed "
        "response), in-memory tracker store, no gateway, no action server "
        "(`bench/baseline.py`). The load generator is a separate process "
        "(`bench/loadgen.py`): K customers in a closed loop, no think time, the same "
        "conversation plan for both (order status, tracking, return form, loyalty, policy "
        "questions, ~5% handoffs; 80% Chinese, 20% English).",
        "",
        "## Per-turn latency and throughput",
        "",
        "The baseline runs first and again last; the ratios are to the mean of the two "
        "(their difference is the drift of this shared machine during the run).",
        "",
        *latency_table(runs),
        "",
        f"## Targets at {TARGET_LEVEL} concurrent customers",
        "",
        *target_lines(runs),
        "",
        "## Where the time goes (1 Rasa server; median turn, turns per second)",
        "",
        "The middle column is the same load sent straight to the Rasa server of the full "
        "system: the real model (rule policy, forms) with its custom actions, the SQL "
        "tracker store and the Redis lock store, but no gateway and no nginx in front.",
        "",
        *breakdown_lines(runs),
        "",
        f"## CPU per answered turn, by process (K={TARGET_LEVEL})",
        "",
        "User + system CPU of each process (`/proc/<pid>/stat`) over the measured window, "
        "divided by the turns answered in it; PostgreSQL and nginx with their child "
        "processes. The baseline's is one process on one core; the full system's share the "
        "machine's cores. Analysis: `docs/performance.md`; a finer split (by thread, with "
        "py-spy samples): `python -m bench.cpu_split`.",
        "",
        *cpu_table(runs),
        "",
        "## Peak memory per process",
        "",
        "Single processes: peak resident set (VmHWM). Process groups (PostgreSQL backends, "
        "nginx): the highest sampled sum of proportional set sizes (shared pages counted "
        "once).",
        "",
        *memory_table(runs),
        "",
        "## Hot shop-data queries and their plans",
        "",
        "The most frequent SELECTs on the shop database during the full-system runs "
        "(pg_stat_statements), with PostgreSQL's generic plan (the plan used for any "
        "parameter value).",
        "",
        *plan_lines(results.get("query_plans", [])),
        "",
    ]
    if errors:
        parts += ["## Error samples", "", *errors, ""]
    return "\n".join(parts)
