"""data-starved: GPUs idle in a step pattern with no host-side cause visible in the data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features, host_of
from rules._attribution import (
    ATTRIBUTION_THRESHOLDS,
    attribute,
    gpu_names,
    host_gpus,
    hot,
    pct,
    weighted_mean,
    windowed_idle,
)
from rules._causes import (
    CPU_THRESHOLDS,
    STORAGE_THRESHOLDS,
    SWAP_THRESHOLDS,
    HostCause,
    cpu_cause,
    storage_cause,
    swap_cause,
    write_stall,
)
from rules._host_blame import blame_cause
from rules._links import PCIE_BUSY, pcie_util

GAP_IDLE = 0.5  # a bin at least half idle is part of a gap: the wait fills most of it
MIN_GAPS = Threshold(
    3.0, unit="count", bounds=(1.0, 1e6),
    source="definition: a pattern shows a period only when it repeats, which takes at least "
           "three gaps (two intervals); fewer is one or two stalls",
    help="idle gaps (runs of bins at least half idle) needed to call it a step pattern")
MAX_STALL_SHARE = Threshold(
    0.5, unit="ratio", bounds=(0.0, 1.0),
    source="definition of a step pattern: a loop that waits for input waits in every step, "
           "so its waiting is spread over many gaps; when one unbroken gap holds most (over "
           "half) of the waiting, the job stalled instead (gpu-idle's ground)",
    help="largest share of the gaps' waiting that one gap may hold")

CATEGORIES: dict[str, tuple[str, ...]] = {
    "disk": ("disk.busy", "disk.read", "host.psi.io_some", "host.cpu.iowait"),
    "CPU": ("host.cpu.user", "host.cpu.system", "host.cpu.core_busy_max",
            "host.cpu.cores_saturated", "host.psi.cpu_some"),
    "memory": ("host.swap_in", "host.swap_out", "host.psi.memory_some"),
}


@dataclass(frozen=True, slots=True)
class Gaps:
    """The idle gaps of one GPU: runs of bins at least half idle."""

    count: int
    waiting: float  # idle share summed over the gap bins, in bins
    longest_share: float  # share of `waiting` inside the longest gap
    mask: pd.Series  # True in gap bins


def gaps_of(wait: pd.Series) -> Gaps:
    w = wait.to_numpy(dtype="float64")
    in_gap = np.nan_to_num(w, nan=0.0) >= GAP_IDLE
    edges = np.flatnonzero(np.diff(np.concatenate(([0], in_gap.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    cum = np.concatenate(([0.0], np.cumsum(np.where(in_gap, w, 0.0))))
    sizes = cum[ends] - cum[starts]
    total = float(sizes.sum())
    longest = float(sizes.max() / total) if total > 0 else 1.0
    return Gaps(len(starts), total, longest, pd.Series(in_gap, index=wait.index))


@rule(
    id="data-starved",
    title="GPUs wait on input (cause not visible)",
    needs=("gpu.util|gpu.gr_engine_active",),
    thresholds={**ATTRIBUTION_THRESHOLDS, **STORAGE_THRESHOLDS, **CPU_THRESHOLDS,
                **SWAP_THRESHOLDS, "pcie_busy": PCIE_BUSY, "min_gaps": MIN_GAPS,
                "max_stall_share": MAX_STALL_SHARE},
    remediation="Profile one training step (torch.profiler, the PyTorch TensorBoard plugin, or "
                "py-spy on the loader) to see where the wait is; record host metrics with the "
                "GPUs next time so storage and CPU can be told apart.",
    groups=("input",),
)
def data_starved(f: Features, th: Thresholds) -> list[Finding]:
    """GPUs idle in a recurring step pattern, and nothing on the host explains it.

    Fires when: GPUs that ran work idle in gaps (runs of bins at least half idle) that recur
    (at least `min_gaps` of them, no one gap holding more than `max_stall_share` of their
    idle time), the gaps hold at least `min_gpu_time_lost` of each such GPU's job window and
    of the host's GPU-time, and none of storage, CPU, swap or PCIe saturation lines up with them in
    time (the tests of data-starved-storage, data-starved-cpu, host-swap-storm and
    pcie-bound, with this rule's thresholds). The loss is the idle time inside the gaps. The
    summary says what data could have explained it: "no disk, CPU or memory metrics" versus
    "host metrics present and unremarkable" (a core pegged in nearly every bin is named, as
    timing cannot judge it); when the gaps line up with a local disk
    saturated writing, it says so (synchronous checkpoints or logs, not input).
    Does not fire when: a host-side cause explains the waiting (that rule fires instead), the
    GPU is idle in one long stretch (stuck job: see gpu-idle), idle only at start-up or
    teardown, the waiting is below `min_gpu_time_lost`, or the idle is spread thinly over
    every bin (steps shorter than a sample: kernel gaps and sub-second waits cannot be told
    apart at this resolution). An inference server idling between requests looks the same:
    read it as "waiting for work".
    Remedy: profile a step to find the wait (loader, collate, host-to-device copy, Python
    overhead, synchronisation); record host metrics alongside GPU metrics.
    Sources: TensorFlow profiler input-pipeline analysis (5 % / 20 % input-bound levels);
    PyTorch TensorBoard plugin (DataLoader share > 5 %); the host-cause sources of
    data-starved-storage, data-starved-cpu and host-swap-storm.
    """
    wait = windowed_idle(f, th)
    pcie = hot(pcie_util(f), th.pcie_busy)
    total = f.gpu_bins() or 1
    findings = []
    for host in f.hosts:
        gpus = [g for g in host_gpus(f, host) if wait[g].notna().any()]
        gaps = {g: gaps_of(wait[g]) for g in gpus}
        starved = [g for g in gpus if gaps[g].count >= th.min_gaps
                   and gaps[g].longest_share <= th.max_stall_share
                   and gaps[g].waiting >= th.min_gpu_time_lost * wait[g].notna().sum()]
        lost = sum(gaps[g].waiting for g in starved) / total
        own_bins = f.gpu_bins(host_gpus(f, host))
        if not starved or lost * total / max(own_bins, 1) < th.min_gpu_time_lost:
            continue
        causes = [c for c in (storage_cause(f, host, th), cpu_cause(f, host, th),
                              swap_cause(f, host, th)) if c is not None]
        if _explained(f, causes, pcie, wait[gpus], th):
            continue
        writes = write_stall(f, host, th)
        by_writes = writes is not None and attribute(
            f, pd.DataFrame({g: writes for g in gpus}), wait[gpus], th).fires
        findings.append(_finding(f, host, starved, wait, gaps, causes, lost, by_writes, th))
    return findings


def _explained(f: Features, causes: list[HostCause], pcie: pd.DataFrame, wait: pd.DataFrame,
               th: Thresholds) -> bool:
    """Whether storage, CPU, swap (as their rules test them) or PCIe saturation explains it."""
    if any(blame_cause(f, c, wait, th) is not None for c in causes):
        return True
    link = pcie.reindex(index=wait.index, columns=wait.columns)
    return bool(link.notna().any().any()) and attribute(f, link, wait, th).fires


def _host_has(f: Features, metric: str, host: str) -> bool:
    return any(host_of(c) == host for c in f.wide(metric).columns)


def _finding(f: Features, host: str, starved: list[str], wait: pd.DataFrame,
             gaps: dict[str, Gaps], causes: list[HostCause], lost: float, by_writes: bool,
             th: Thresholds) -> Finding:
    weight = pd.concat([wait[g].where(gaps[g].mask, 0.0) for g in starved],
                       axis=1).mean(axis=1).fillna(0.0)
    evidence = []
    for g in starved:
        evidence.append(Evidence("gpu.util", g, 1.0 - float(wait[g].mean()), None, "ratio",
                                 note=f"mean over the job window; {gaps[g].count} idle gaps, "
                                      f"the longest holding {pct(gaps[g].longest_share)} of "
                                      "their idle time"))
    seen: list[str] = []
    throughout = [c.name for c in causes if float(c.present.mean()) >= th.always_share]
    for cause in causes:
        for s in cause.signals:
            value = weighted_mean(s.values, weight)
            if value == value:
                evidence.append(Evidence(s.metric, s.entity, value, s.threshold, s.unit,
                                         note="mean while the GPUs wait"))
                seen.append(f"{s.metric.removeprefix('host.')} {_fmt(value, s.unit)}")
    pegged = _pegged_throughout(causes, weight, th)
    missing = [name for name, metrics in CATEGORIES.items()
               if not any(_host_has(f, m, host) for m in metrics)]
    if by_writes:
        why = (f"the gaps line up with a disk of {host} saturated writing: synchronous "
               "checkpoints or logs rather than input (save asynchronously or less often)")
    elif len(missing) == len(CATEGORIES):
        why = (f"no disk, CPU or memory metrics for {host} in this trace to say why: record "
               "host metrics with the GPUs (node_exporter or the live sampler)")
    elif throughout:
        why = (f"{' and '.join(throughout)} saturated throughout, so the timing cannot tell "
               "whether it is the cause")
    else:
        why = ("no host metric lines up with the waits" if pegged
               else "host metrics present and unremarkable while they wait")
        if seen:
            why += f" ({', '.join(seen[:4])})"
        if missing:
            why += f"; no {' or '.join(missing)} metrics in this trace"
    if pegged and not by_writes:
        why += (f"; {pegged} throughout: loader workers too few for their CPU work look like "
                "this, and so does the training loop's own thread, so timing cannot tell")
    share = float(np.mean([gaps[g].waiting / wait[g].notna().sum() for g in starved]))
    summary = (f"{gpu_names(starved)} wait {pct(share)} of the time in recurring idle gaps "
               f"(a step pattern); {why}")
    return Finding(entities=tuple(starved), gpu_time_lost=lost, evidence=tuple(evidence),
                   summary=summary)


def _pegged_throughout(causes: list[HostCause], weight: pd.Series, th: Thresholds) -> str:
    """Timing-only CPU signals hot in nearly every bin (e.g. "112 cores saturated"), as text."""
    parts = []
    for cause in causes:
        for s in cause.triggers:
            if s.timing_only and s.hot is not None and float(s.hot.mean()) >= th.always_share:
                value = weighted_mean(s.values, weight)
                parts.append(f"{value:.0f} cores at least 90 % busy" if s.unit == "count"
                             else f"the busiest core {pct(value)} busy")
    return " and ".join(parts)


def _fmt(value: float, unit: str) -> str:
    if unit == "ratio":
        return pct(value)
    if unit == "bytes/s":
        return f"{value / 1e6:.0f} MB/s"
    return f"{value:.1f}"
