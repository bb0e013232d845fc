"""The benchmark report computes its verdicts from the measured numbers (bench/report.py)."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.report import write_report


def level(k: int, p50: float, tps: float, cpu: dict[str, float] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "concurrency": k, "p50_ms": p50, "p95_ms": p50 * 2, "p99_ms": p50 * 3,
        "throughput_tps": tps, "errors": 0, "loadgen_peak_rss_kb": 50_000,
    }
    if cpu is not None:
        item["cpu_ms_per_turn"] = cpu
    return item


def results(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "machine": {"cpu": "x", "cores": 2, "memory": "1 GiB", "os": "linux", "python": "3.10",
                    "commit": "abc", "date": "today"},
        "load_before": "0 0 0", "load_after": "0 0 0",
        "settings": {"levels": [20], "duration_s": 30, "warmup_s": 5, "gateways": 2,
                     "model": "m"},
        "database": {}, "runs": runs, "query_plans": [],
    }


def test_ratios_use_the_mean_of_both_baseline_runs() -> None:
    runs = [
        {"name": "baseline", "levels": [level(20, 200, 100, {"rasa (bare)": 10.0})],
         "memory_kb": {"rasa (bare)": 1024}},
        {"name": "prod-2rasa", "replicas": 2,
         "levels": [level(20, 300, 60, {"rasa-0": 12.0, "gateway-0": 8.5})],
         "memory_kb": {"rasa-0": 2048}},
        {"name": "baseline-after", "levels": [level(20, 100, 60, {"rasa (bare)": 14.0})],
         "memory_kb": {"rasa (bare)": 1024}},
    ]
    report = write_report(results(runs))
    # mean baseline at K=20: p50 150 ms, 80 turns/s -> 2.00x and 75%
    row = "| 20 | full system, 2 Rasa servers | 300 | 600 | 900 | 60.0 | 0 | 2.00× | 75% |"
    assert row in report
    assert "median 2.00× the baseline's (NOT met, target ≤ 1.5×)" in report
    assert "throughput 75% of the baseline's (met, target ≥ 70%)" in report
    assert "| **total** | **10.0 ms** | **20.5 ms** | **14.0 ms** |" in report


def test_a_single_baseline_run_is_the_reference() -> None:
    runs = [
        {"name": "baseline", "levels": [level(20, 200, 100)], "memory_kb": {}},
        {"name": "prod-1rasa", "replicas": 1, "levels": [level(20, 280, 71)],
         "memory_kb": {}},
    ]
    report = write_report(results(runs))
    assert "median 1.40× the baseline's (met, target ≤ 1.5×)" in report
    assert "throughput 71% of the baseline's (met, target ≥ 70%)" in report
    cpu_section = report.split("## CPU per answered turn")[1].split("## ")[0]
    assert "(not measured in this run)" in cpu_section  # no CPU figures were given


def test_patched_bare_rasa_is_compared_not_judged() -> None:
    """The patched bare Rasa (an extra reference) gets ratios but no target verdict."""
    runs = [
        {"name": "baseline", "levels": [{"concurrency": 20, "p50_ms": 200.0,
                                         "throughput_tps": 80.0}]},
        {"name": report.PATCHED_BARE, "levels": [{"concurrency": 20, "p50_ms": 160.0,
                                                  "throughput_tps": 100.0}]},
    ]
    (line,) = report.target_lines(runs)
    assert line.startswith("- for comparison, bare Rasa with the project's Rasa patches")
    assert "median 0.80×" in line and "125%" in line and "met" not in line
