"""Small numpy generators of noisy traces with a known, simulated GPU-time loss.

Each generator returns a Scenario: the Trace, the loss the simulation put in (as a fraction of
all GPU-time), and the GPUs it starved. Waits come in a step pattern whose period, duty cycle
and levels are drawn from the seed, so a rule is tested on a family of traces rather than one
hand-tuned fixture. Nothing here reads a rule's thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from profiler.engine import Finding, run_rules
from profiler.features import Features
from profiler.trace import GpuInfo, Trace, TraceMeta

Series = dict[str, dict[str, list[float]]]


@dataclass
class Scenario:
    series: Series
    true_loss: float
    affected: list[str]
    meta_gpus: list[GpuInfo] = field(default_factory=list)

    def trace(self) -> Trace:
        trace = Trace.from_series(self.series)
        if not self.meta_gpus:
            return trace
        meta = TraceMeta(source="series", interval_s=1.0, hosts=trace.meta.hosts,
                         gpus=tuple(self.meta_gpus))
        return Trace(trace.samples, meta, trace.events)


def step_mask(rng: np.random.Generator, n: int, idle_level: float) -> np.ndarray:
    """True in the bins a synchronous job waits: one gap per step, jittered, busy at both ends."""
    mask = np.zeros(n, dtype=bool)
    period = int(rng.integers(8, 30))
    if idle_level <= 0:
        return mask
    gap = max(1, round(idle_level * period))
    start = period // 2
    while start + gap < n - period // 2:
        mask[start:start + gap] = True
        start += period + int(rng.integers(-1, 2))
    return mask


def longest_run(mask: np.ndarray) -> int:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0


def shifted(mask: np.ndarray) -> np.ndarray:
    """The same saturation moved to just after each wait, onto bins where the job works."""
    return np.roll(mask, longest_run(mask)) & ~mask


def _levels(rng: np.random.Generator, mask: np.ndarray, low: tuple[float, float],
            high: tuple[float, float], noise: float = 0.02) -> np.ndarray:
    lo, hi = rng.uniform(*low), rng.uniform(*high)
    return np.where(mask, hi, lo) + rng.normal(0.0, noise, len(mask))


def util_for(rng: np.random.Generator, wait: np.ndarray, dips: float = 0.0) -> np.ndarray:
    """Busy ~0.96, waiting ~0.05; `dips` of the busy bins dip to 50-90 % for no reason."""
    util = _levels(rng, wait, (0.93, 0.99), (0.0, 0.1))
    dip = ~wait & (rng.random(len(wait)) < dips)
    util[dip] *= rng.uniform(0.5, 0.9, int(dip.sum()))
    return np.clip(util, 0.0, 1.0)


def gpus_waiting(rng: np.random.Generator, wait: np.ndarray, gpus: list[str],
                 busy_gpus: tuple[str, ...] = (), dips: float = 0.0,
                 blamed: np.ndarray | None = None) -> tuple[Series, float]:
    """GPU series for `gpus` waiting on `wait` and `busy_gpus` always busy; the idle lost in
    the `blamed` bins (default: every waiting bin)."""
    blamed = wait if blamed is None else blamed
    series: Series = {}
    idle_during = 0.0
    for g in gpus:
        util = util_for(rng, wait, dips)
        series[g] = {"gpu.util": util.tolist()}
        idle_during += float((1.0 - util)[blamed].sum())
    for g in busy_gpus:
        series[g] = {"gpu.util": util_for(rng, np.zeros_like(wait)).tolist()}
    total = len(wait) * (len(gpus) + len(busy_gpus))
    return series, idle_during / total


def storage_starved(seed: int, idle_level: float, *, aligned: bool = True, n: int = 600,
                    n_gpus: int = 4, host: str = "node1", coverage: float = 1.0,
                    skew: int = 0, dips: float = 0.0) -> Scenario:
    """A loader reading from nvme0n1: the disk saturates in the bins the GPUs wait (or, with
    aligned=False, in as many bins while the GPUs work). Realism knobs: storage causes only
    `coverage` of the waits, the host sampler lags the GPU sampler by `skew` bins, and
    `dips` of the busy bins dip for no reason."""
    rng = np.random.default_rng(seed)
    wait = step_mask(rng, n, idle_level)
    blamed = wait & (rng.random(n) < coverage)
    sat = np.roll(blamed if aligned else shifted(wait), skew)
    gpus = [f"{host}/gpu{i}" for i in range(n_gpus)]
    series, lost = gpus_waiting(rng, wait, gpus, dips=dips, blamed=blamed)
    series[f"{host}/nvme0n1"] = {
        "disk.busy": np.clip(_levels(rng, sat, (0.05, 0.3), (0.95, 1.0)), 0, 1).tolist(),
        "disk.read": np.abs(_levels(rng, sat, (1e6, 5e7), (4e8, 7e8), 1e7)).tolist(),
        "disk.write": np.abs(rng.normal(2e6, 5e5, n)).tolist(),
    }
    series[f"{host}/host"] = {
        "host.cpu.iowait": np.clip(_levels(rng, sat, (0.0, 0.02), (0.05, 0.25)), 0, 1).tolist(),
        "host.psi.io_some": np.clip(_levels(rng, sat, (0.0, 0.03), (0.4, 0.9)), 0, 1).tolist(),
        "host.cpu.user": np.clip(rng.normal(0.3, 0.03, n), 0, 1).tolist(),
    }
    return Scenario(series, lost if aligned else 0.0, gpus)


def cpu_starved(seed: int, idle_level: float, *, aligned: bool = True, n: int = 600,
                n_gpus: int = 2) -> Scenario:
    """Preprocessing saturates all CPUs while the GPUs wait; the training loop pegs one core
    throughout (present in every bin, so it carries no timing)."""
    rng = np.random.default_rng(seed)
    wait = step_mask(rng, n, idle_level)
    sat = wait if aligned else shifted(wait)
    gpus = [f"node1/gpu{i}" for i in range(n_gpus)]
    series, lost = gpus_waiting(rng, wait, gpus)
    series["node1/host"] = {
        "host.cpu.user": np.clip(_levels(rng, sat, (0.3, 0.6), (0.9, 0.97)), 0, 1).tolist(),
        "host.cpu.system": np.clip(rng.normal(0.03, 0.005, n), 0, 1).tolist(),
        "host.cpu.core_busy_max": np.clip(rng.normal(0.99, 0.005, n), 0, 1).tolist(),
        "host.psi.cpu_some": np.clip(_levels(rng, sat, (0.0, 0.05), (0.3, 0.8)), 0, 1).tolist(),
    }
    return Scenario(series, lost if aligned else 0.0, gpus)


def cpu_hovering(seed: int, idle_level: float, *, cpu_level: float = 0.92,
                 pegged_core: bool = False, n: int = 600, n_gpus: int = 2) -> Scenario:
    """Steps shorter than a bin: every bin holds some waiting (about `idle_level`) and the
    CPUs hover around `cpu_level` with troughs that have nothing to do with the waits, so
    timing can neither confirm nor refute the CPU. With the CPUs at their limit on average,
    all the waiting is theirs. `pegged_core` adds a training loop's core busy in every bin."""
    rng = np.random.default_rng(seed)
    gpus = [f"node1/gpu{i}" for i in range(n_gpus)]
    series: Series = {}
    idle = 0.0
    for g in gpus:
        util = np.clip(1.0 - idle_level + rng.normal(0.0, 0.04, n), 0.0, 1.0)
        series[g] = {"gpu.util": util.tolist()}
        idle += float((1.0 - util).sum())
    series["node1/host"] = {
        "host.cpu.user": np.clip(rng.normal(cpu_level - 0.03, 0.03, n), 0, 1).tolist(),
        "host.cpu.system": np.clip(rng.normal(0.03, 0.005, n), 0, 1).tolist(),
    }
    if pegged_core:
        series["node1/host"]["host.cpu.core_busy_max"] = np.clip(
            rng.normal(0.99, 0.005, n), 0, 1).tolist()
    return Scenario(series, idle / (n * n_gpus) if cpu_level >= 0.9 else 0.0, gpus)


def swap_storm(seed: int, idle_level: float, *, aligned: bool = True, n: int = 600,
               healthy_hosts: int = 0) -> Scenario:
    """node1 swaps while its two GPUs wait; `healthy_hosts` more nodes (node2, ...) of two busy
    GPUs each, not swapping, make it a fleet."""
    rng = np.random.default_rng(seed)
    wait = step_mask(rng, n, idle_level)
    sat = wait if aligned else shifted(wait)
    gpus = ["node1/gpu0", "node1/gpu1"]
    busy = tuple(f"node{h}/gpu{g}" for h in range(2, 2 + healthy_hosts) for g in range(2))
    series, lost = gpus_waiting(rng, wait, gpus, busy_gpus=busy)
    for h in range(2, 2 + healthy_hosts):
        series[f"node{h}/host"] = {"host.swap_in": [0.0] * n, "host.swap_out": [0.0] * n}
    series["node1/host"] = {
        "host.swap_in": np.abs(_levels(rng, sat, (0.0, 1e4), (2e7, 9e7), 1e4)).tolist(),
        "host.swap_out": np.abs(_levels(rng, sat, (0.0, 1e4), (1e7, 5e7), 1e4)).tolist(),
        "host.mem_available": np.abs(rng.normal(3e9, 1e8, n)).tolist(),
        "host.mem_total": [5e11] * n,
    }
    return Scenario(series, lost if aligned else 0.0, gpus)


def pcie_copies(seed: int, idle_level: float, *, aligned: bool = True,
                n: int = 600) -> Scenario:
    """Host-to-device copies at 75-95 % of a Gen4 x16 link while SMs are nearly idle."""
    rng = np.random.default_rng(seed)
    wait = step_mask(rng, n, idle_level)
    hot = wait if aligned else shifted(wait)
    line = 16 * 1.969e9
    series: Series = {}
    lost = 0.0
    for g in ("node1/gpu0", "node1/gpu1"):
        sm = np.clip(_levels(rng, wait, (0.8, 0.9), (0.05, 0.15)), 0, 1)
        series[g] = {
            "gpu.util": np.clip(_levels(rng, wait, (0.97, 1.0), (0.2, 0.4)), 0, 1).tolist(),
            "gpu.sm_active": sm.tolist(),
            "gpu.pcie_rx": (line * np.clip(_levels(rng, hot, (0.01, 0.1), (0.75, 0.95)),
                                           0, 1)).tolist(),
            "gpu.pcie_gen": [4.0] * n, "gpu.pcie_width": [16.0] * n,
        }
        lost += float((1.0 - sm)[wait].sum())
    return Scenario(series, lost / (2 * n) if aligned else 0.0, list(series))


def allreduce(seed: int, comm_level: float, *, links_hot: bool = True,
              n: int = 600) -> Scenario:
    """Exposed all-reduce on 4 A100s: util 1, SMs low, NVLink at 70-90 % in the comm bins."""
    rng = np.random.default_rng(seed)
    comm = step_mask(rng, n, comm_level)
    cap = 12 * 25e9
    series: Series = {}
    lost = 0.0
    meta = []
    for i in range(4):
        g = f"node1/gpu{i}"
        sm = np.clip(_levels(rng, comm, (0.8, 0.9), (0.05, 0.2)), 0, 1)
        util = np.clip(_levels(rng, comm, (0.97, 1.0), (0.97, 1.0), 0.01), 0, 1)
        level = (0.7, 0.9) if links_hot else (0.01, 0.05)
        series[g] = {"gpu.util": util.tolist(), "gpu.sm_active": sm.tolist(),
                     "gpu.nvlink_tx": (cap * np.clip(_levels(rng, comm, (0.0, 0.02), level),
                                                     0, 1)).tolist()}
        lost += float(np.clip(util - sm, 0, None)[comm].sum())
        meta.append(GpuInfo("node1", f"gpu{i}", i, name="NVIDIA A100-SXM4-80GB",
                            nvlink_count=12, nvlink_version=3))
    return Scenario(series, lost / (4 * n) if links_hot else 0.0, list(series), meta)


def straggler(seed: int, slowdown: float, *, n_gpus: int = 8, n: int = 300) -> Scenario:
    """One throttled GPU: SMs busy `b`; its peers busy `b * slowdown` and wait the rest."""
    rng = np.random.default_rng(seed)
    slow = int(rng.integers(0, n_gpus))
    busy = rng.uniform(0.8, 0.95)
    series: Series = {}
    for i in range(n_gpus):
        level = busy if i == slow else busy * slowdown
        series[f"node1/gpu{i}"] = {
            "gpu.util": np.clip(rng.normal(0.98, 0.01, n), 0, 1).tolist(),
            "gpu.sm_active": np.clip(rng.normal(level, 0.03, n), 0, 1).tolist(),
        }
    # Each peer waits busy * (1 - slowdown) more of its time than the straggler: the time it
    # would get back if the straggler kept pace.
    true = (n_gpus - 1) * busy * (1.0 - slowdown) / n_gpus
    return Scenario(series, true, [f"node1/gpu{slow}"])


def stuck_gpus(seed: int, *, n_gpus: int = 8, n: int = 400) -> Scenario:
    """Some GPUs hang (util 0, memory held) from a random bin after working; others work."""
    rng = np.random.default_rng(seed)
    stuck = sorted(rng.choice(n_gpus, size=int(rng.integers(1, 4)), replace=False).tolist())
    series: Series = {}
    idle_bins = 0
    for i in range(n_gpus):
        util = np.clip(rng.normal(0.9, 0.05, n), 0, 1)
        if i in stuck:
            hang = int(rng.integers(0, n // 3))
            util[hang:] = 0.0
            idle_bins += n - hang
        series[f"node1/gpu{i}"] = {"gpu.util": util.tolist(),
                                   "gpu.fb_used": np.abs(rng.normal(4e10, 1e9, n)).tolist()}
    return Scenario(series, idle_bins / (n_gpus * n), [f"node1/gpu{i}" for i in stuck])


def healthy_with_checkpoints(seed: int, *, n: int = 1800) -> Scenario:
    """A busy job that checkpoints every 100-250 s: 2-5 s of writes with the GPUs idle, about
    2 % of GPU time."""
    rng = np.random.default_rng(seed)
    ckpt = np.zeros(n, dtype=bool)
    at = int(rng.integers(60, 200))
    while at < n - 10:
        ckpt[at:at + int(rng.integers(2, 6))] = True
        at += int(rng.integers(100, 250))
    gpus = [f"node1/gpu{i}" for i in range(4)]
    series, lost = gpus_waiting(rng, ckpt, gpus)
    for g in gpus:
        series[g]["gpu.fb_used"] = [6e10] * n
        series[g]["gpu.sm_active"] = np.clip(rng.normal(0.85, 0.03, n), 0, 1).tolist()
    series["node1/nvme0n1"] = {
        "disk.busy": np.clip(_levels(rng, ckpt, (0.05, 0.2), (0.97, 1.0)), 0, 1).tolist(),
        "disk.read": np.abs(rng.normal(2e7, 5e6, n)).tolist(),
        "disk.write": np.abs(_levels(rng, ckpt, (1e6, 5e6), (1.5e9, 2.5e9), 1e7)).tolist(),
    }
    series["node1/host"] = {
        "host.psi.io_some": np.clip(_levels(rng, ckpt, (0.0, 0.02), (0.5, 0.9)), 0, 1).tolist(),
        "host.cpu.iowait": np.clip(_levels(rng, ckpt, (0.0, 0.01), (0.1, 0.3)), 0, 1).tolist(),
        "host.cpu.user": np.clip(rng.normal(0.4, 0.05, n), 0, 1).tolist(),
        "host.cpu.core_busy_max": np.clip(rng.normal(0.99, 0.005, n), 0, 1).tolist(),
        "host.swap_in": [0.0] * n,
    }
    return Scenario(series, lost, gpus)


def run(trace: Trace, *rule_ids: str) -> list[Finding]:
    """Findings of `rule_ids` (all rules when none) on `trace`, through the real engine."""
    import rules  # noqa: F401 - registers every rule

    outcome = run_rules(Features(trace), rule_ids=list(rule_ids) or None)
    return list(outcome.findings)


def serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("warning", "critical")]
