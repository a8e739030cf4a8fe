"""Fake /proc and /sys trees, and a tick driver with chosen timestamps, for host collector tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collectors.base import Collector, SampleBuffer
from collectors.procfs import ProcFile
from profiler.trace import Absence

NS = 1_000_000_000


class FakeNode:
    """A directory standing in for `/`: write /proc and /sys files into it, and rewrite them.

    Collectors keep files open and re-read them in place, as the kernel's files allow; so a test
    rewrites a file (same inode) rather than deleting and recreating it. A real /sys node that goes
    away makes reads fail, which `fail_with` imitates.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)  # same inode: a collector's kept-open file sees the new text

    def mkdir(self, rel: str) -> None:
        (self.root / rel).mkdir(parents=True, exist_ok=True)

    def remove(self, rel: str) -> None:
        path = self.root / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def fail_with(code: int) -> Callable[[ProcFile], str]:
    """A stand-in for ProcFile.read that fails as the kernel would (errno.ENODEV, EOPNOTSUPP)."""
    def read(self: ProcFile) -> str:
        raise OSError(code, os.strerror(code), self.path)
    return read


@dataclass
class Tick:
    """What one collector emitted in one tick."""

    ts_s: float
    values: dict[tuple[str, str], float] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def get(self, entity: str, metric: str) -> float | None:
        return self.values.get((entity, metric))

    def metrics(self) -> set[str]:
        return {m for _, m in self.values}

    def entities(self, metric: str) -> set[str]:
        return {e for e, m in self.values if m == metric}


class Driver:
    """Opens a collector and samples it at the timestamps a test chooses."""

    def __init__(self, collector: Collector, host: str = "node1") -> None:
        self.collector = collector
        self.buf = SampleBuffer(host)
        collector.open(host)

    def tick(self, t_s: float) -> Tick:
        self.buf.begin_tick(round(t_s * NS))
        self.collector.sample(self.buf)
        return _tick(t_s, *self.buf.take())

    def live_ticks(self, n: int, gap_s: float = 0.1) -> list[Tick]:
        """Sample the real machine `n` times, `gap_s` apart, on the wall clock."""
        ticks = []
        for i in range(n):
            if i:
                time.sleep(gap_s)
            now_ns = time.time_ns()
            self.buf.begin_tick(now_ns)
            self.collector.sample(self.buf)
            ticks.append(_tick(now_ns / NS, *self.buf.take()))
        return ticks

    def absences(self) -> list[Absence]:
        return self.collector.absences()

    def close(self) -> None:
        self.collector.close()


def _tick(ts_s: float, samples: pd.DataFrame, events: pd.DataFrame) -> Tick:
    values = {(str(e), str(m)): float(v) for e, m, v in
              zip(samples["entity"], samples["metric"], samples["value"], strict=True)}
    if len(values) != len(samples):
        raise AssertionError("a collector emitted the same entity and metric twice in one tick")
    notes = [(str(e), str(k), str(m)) for e, k, m in
             zip(events["entity"], events["kind"], events["message"], strict=True)]
    return Tick(ts_s, values, notes)


def absence_for(absences: Iterable[Absence], metric: str, entity: str | None = None
                ) -> Absence | None:
    """The absence that covers `metric` (for `entity`, or for every entity), if any."""
    for a in absences:
        if a.covers(metric) and a.entity == entity:
            return a
    return None


# --- file contents -------------------------------------------------------------------------

def proc_stat(cpus: Mapping[int, Iterable[int]], running: int = 1, blocked: int = 0) -> str:
    """/proc/stat with one line per CPU (10 tick fields each, or as many as given)."""
    rows = {i: list(t) for i, t in cpus.items()}
    total = [sum(col) for col in zip(*rows.values(), strict=True)] if rows else []
    lines = ["cpu  " + " ".join(map(str, total))]
    lines += [f"cpu{i} " + " ".join(map(str, t)) for i, t in sorted(rows.items())]
    lines += ["intr 114930548 113199788 3 0 5 263 0 4", "ctxt 1990473", "btime 1062191376",
              "processes 2915", f"procs_running {running}", f"procs_blocked {blocked}",
              "softirq 1 2 3 4 5 6 7 8 9 10 11"]
    return "\n".join(lines) + "\n"


def cpu_ticks(user: int = 0, nice: int = 0, system: int = 0, idle: int = 0, iowait: int = 0,
              irq: int = 0, softirq: int = 0, steal: int = 0, guest: int = 0,
              guest_nice: int = 0) -> tuple[int, ...]:
    return (user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice)


def diskstats_line(name: str, sectors_read: int = 0, sectors_written: int = 0,
                   io_ms: int = 0, weighted_ms: int = 0, fields: int = 20,
                   major: int = 8, minor: int = 0) -> str:
    """One /proc/diskstats line of 14, 18 or 20 fields (counting major, minor and name)."""
    stats = [100, 5, sectors_read, 40, 200, 7, sectors_written, 90, 0, io_ms, weighted_ms,
             3, 0, 24, 1, 11, 2]
    return f"{major:4d} {minor:7d} {name} " + " ".join(map(str, stats[:fields - 3]))


def net_dev(counters: Mapping[str, tuple[int, int]]) -> str:
    """/proc/net/dev with (rx bytes, tx bytes) per interface."""
    lines = ["Inter-|   Receive                                                |  Transmit",
             " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
             "errs drop fifo colls carrier compressed"]
    for name, (rx, tx) in counters.items():
        lines.append(f"{name:>6}: {rx:8d} 98765 0 12 0 0 0 0 {tx:8d} 87654 0 0 0 0 0 0")
    return "\n".join(lines) + "\n"


def psi(some_us: int, full_us: int | None = None) -> str:
    text = f"some avg10=0.12 avg60=0.05 avg300=0.01 total={some_us}\n"
    if full_us is not None:
        text += f"full avg10=0.00 avg60=0.00 avg300=0.00 total={full_us}\n"
    return text
