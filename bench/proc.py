"""CPU time of processes from /proc, for the benchmark and `bench.cpu_split`."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_cpu_ms(stat: str, reaped_children: bool = False) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12])  # utime + stime
    if reaped_children:
        used += int(fields[13]) + int(fields[14])  # cutime + cstime
    return used * 1000.0 / TICKS


def cpu_ms(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU of a process so far, in milliseconds (0 if it is gone); with
    `reaped_children`, plus that of its children that have exited."""
    try:
        return _stat_cpu_ms(Path(f"/proc/{pid}/stat").read_text(), reaped_children)
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
    """CPU so far of each group of processes: its first process (with the children it has
    reaped: a PostgreSQL backend that ended) plus the others, alive now. Take the groups
    afresh for every snapshot, so children that started in between count too."""
    return {
        name: sum(cpu_ms(pid, reaped_children=i == 0) for i, pid in enumerate(pids))
        for name, pids in groups.items()
    }
