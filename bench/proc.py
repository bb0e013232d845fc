"""CPU time of processes from /proc, for the benchmark and `bench.cpu_split`."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_cpu_ms(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICKS  # utime + stime


def cpu_ms(pid: int) -> float:
    """User + system CPU of a process so far, in milliseconds (0 if it is gone)."""
    try:
        return _stat_cpu_ms(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


def thread_cpu_ms(pid: int) -> dict[str, float]:
    """CPU so far of the main thread and of the others (by thread name) of a process."""
    result: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            comm = (task / "comm").read_text().strip()
            used = _stat_cpu_ms((task / "stat").read_text())
        except OSError:
            continue
        name = "main" if task.name == str(pid) else f"other {comm}"
        result[name] = result.get(name, 0.0) + used
    return result


def snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU so far of each group of processes (sum over its processes)."""
    return {name: sum(cpu_ms(pid) for pid in pids) for name, pids in groups.items()}
