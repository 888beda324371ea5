"""Measuring a run: latency percentiles, and each process's CPU time and peak memory."""

import asyncio
import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MIB = 1024 * 1024


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 (nearest rank) and max, in milliseconds, rounded to 0.1 ms."""
    if not values_ms:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    ordered = sorted(values_ms)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1], 1)}


@dataclass
class Watched:
    process: psutil.Process
    cpu_start: float
    cpu_s: float = 0.0
    peak_rss: int = 0
    tree: bool = False  # the process and its children (a PostgreSQL server's backends)


@dataclass
class Processes:
    """Processes watched over a run: CPU seconds used since ``watch`` and peak resident
    memory (sampled, and the kernel's own high-water mark where Linux keeps one)."""

    watched: dict[str, Watched] = field(default_factory=dict)

    def watch(self, name: str, pid: int, tree: bool = False) -> None:
        process = psutil.Process(pid)
        self.watched[name] = Watched(process, _cpu(process, tree), tree=tree)

    def sample(self) -> None:
        for w in self.watched.values():
            with contextlib.suppress(psutil.Error):
                w.cpu_s = _cpu(w.process, w.tree) - w.cpu_start
                rss = sum(p.memory_info().rss for p in _family(w.process, w.tree))
                w.peak_rss = max(w.peak_rss, rss, _high_water(w.process))

    async def sample_every(self, seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
        self.sample()

    def cpu_seconds(self) -> dict[str, float]:
        self.sample()
        return {n: w.cpu_s for n, w in self.watched.items()}

    def report(self, events: int) -> dict[str, dict[str, float]]:
        self.sample()
        per_1000 = 1000 / events if events else math.nan
        return {
            "cpu_s_per_1000_events": {n: round(w.cpu_s * per_1000, 3)
                                      for n, w in self.watched.items()},
            "cpu_s": {n: round(w.cpu_s, 2) for n, w in self.watched.items()},
            "peak_rss_mib": {n: round(w.peak_rss / MIB, 1) for n, w in self.watched.items()},
        }  # fmt: skip


def _family(process: psutil.Process, tree: bool) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)] if tree else [process]


def _cpu(process: psutil.Process, tree: bool = False) -> float:
    """User and system time of the process (with its live children, for a tree) and of its
    children that have ended."""
    total = 0.0
    for member in _family(process, tree):
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system
    times = process.cpu_times()
    return total + float(times.children_user + times.children_system)


def _high_water(process: psutil.Process) -> int:
    """VmHWM, the peak resident set Linux recorded, in bytes (0 where not available)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0
