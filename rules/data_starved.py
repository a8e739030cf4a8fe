"""data-starved: GPUs idle in a step pattern with no host-side cause visible in the data."""

from __future__ import annotations

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
)
from rules._host_blame import blame_cause
from rules._links import PCIE_BUSY, pcie_util

MAX_STALL_SHARE = Threshold(
    0.5, unit="ratio", bounds=(0.0, 1.0),
    source="definition of a step pattern: a loop that waits for input waits a little in every "
           "step, so its waiting is spread over many short gaps (or over every bin, when steps "
           "are shorter than a bin); when one unbroken idle stretch holds most (over half) of "
           "the waiting, the job stalled instead (gpu-idle's ground)",
    help="largest share of all waiting that one unbroken idle stretch may hold")

CATEGORIES: dict[str, tuple[str, ...]] = {
    "disk": ("disk.busy", "disk.read", "host.psi.io_some", "host.cpu.iowait"),
    "CPU": ("host.cpu.user", "host.cpu.system", "host.cpu.core_busy_max",
            "host.cpu.cores_saturated", "host.psi.cpu_some"),
    "memory": ("host.swap_in", "host.swap_out", "host.psi.memory_some"),
}


def stall_share(wait: pd.Series) -> tuple[float, int]:
    """Share of all waiting inside the longest run of mostly-idle bins, and how many runs."""
    w = wait.dropna().to_numpy(dtype="float64")
    total = w.sum()
    if total <= 0:
        return 1.0, 0
    idle = np.concatenate(([False], w >= 0.5, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(idle))
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return 0.0, 0
    cum = np.concatenate(([0.0], np.cumsum(w)))
    return float((cum[ends] - cum[starts]).max() / total), len(starts)


@rule(
    id="data-starved",
    title="GPUs wait on input (cause not visible)",
    needs=("gpu.util|gpu.gr_engine_active",),
    thresholds={**ATTRIBUTION_THRESHOLDS, **STORAGE_THRESHOLDS, **CPU_THRESHOLDS,
                **SWAP_THRESHOLDS, "pcie_busy": PCIE_BUSY, "max_stall_share": MAX_STALL_SHARE},
    remediation="Profile one training step (torch.profiler, the PyTorch TensorBoard plugin, or "
                "py-spy on the loader) to see where the wait is; record host metrics with the "
                "GPUs next time so storage and CPU can be told apart.",
    groups=("input",),
)
def data_starved(f: Features, th: Thresholds) -> list[Finding]:
    """GPUs idle in a recurring step pattern, and nothing on the host explains it.

    Fires when: GPUs that ran work wait (idle) at least `min_gpu_time_lost` of their job
    window, the waiting is spread over the run (no unbroken idle stretch holds more than
    `max_stall_share` of it), those GPUs' waiting is at least `min_gpu_time_lost` of all
    GPU-time,
    and none of storage, CPU, swap or PCIe saturation lines up with it in time (the tests of
    data-starved-storage, data-starved-cpu, host-swap-storm and pcie-bound, with this rule's
    thresholds). The summary says what data could have explained it: "no disk, CPU or memory
    metrics" versus "host metrics present and unremarkable".
    Does not fire when: a host-side cause explains the waiting (that rule fires instead), the
    GPU is idle in one long stretch (stuck job: see gpu-idle), idle only at start-up or
    teardown, or the waiting is below `min_gpu_time_lost`. An inference server idling between
    requests looks the same: read it as "waiting for work".
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
        own = wait[gpus].mean()
        starved = [g for g in gpus if own[g] >= th.min_gpu_time_lost
                   and stall_share(wait[g])[0] <= th.max_stall_share]
        lost = float(wait[starved].sum().sum()) / total
        if not starved or lost < th.min_gpu_time_lost:
            continue
        causes = [c for c in (storage_cause(f, host, th), cpu_cause(f, host, th),
                              swap_cause(f, host, th)) if c is not None]
        if _explained(f, causes, pcie, wait[gpus], th):
            continue
        findings.append(_finding(f, host, starved, wait, causes, lost, th))
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
             causes: list[HostCause], lost: float, th: Thresholds) -> Finding:
    weight = wait[starved].mean(axis=1).fillna(0.0)
    evidence = []
    for g in starved:
        share, gaps = stall_share(wait[g])
        evidence.append(Evidence("gpu.util", g, 1.0 - float(wait[g].mean()), None, "ratio",
                                 note=f"mean over the job window; {gaps} idle gaps, the "
                                      f"longest holding {pct(share)} of the waiting"))
    seen: list[str] = []
    throughout = [c.name for c in causes if float(c.present.mean()) >= th.always_share]
    for cause in causes:
        for s in cause.signals:
            value = weighted_mean(s.values, weight)
            if value == value:
                evidence.append(Evidence(s.metric, s.entity, value, s.threshold, s.unit,
                                         note="mean while the GPUs wait"))
                seen.append(f"{s.metric.removeprefix('host.')} {_fmt(value, s.unit)}")
    missing = [name for name, metrics in CATEGORIES.items()
               if not any(_host_has(f, m, host) for m in metrics)]
    if len(missing) == len(CATEGORIES):
        why = (f"no disk, CPU or memory metrics for {host} in this trace to say why: record "
               "host metrics with the GPUs (node_exporter or the live sampler)")
    elif throughout:
        why = (f"{' and '.join(throughout)} saturated throughout, so the timing cannot tell "
               "whether it is the cause")
    else:
        why = "host metrics present and unremarkable while they wait"
        if seen:
            why += f" ({', '.join(seen[:4])})"
        if missing:
            why += f"; no {' or '.join(missing)} metrics in this trace"
    share = float(wait[starved].mean().mean())
    summary = (f"{gpu_names(starved)} wait {pct(share)} of the time in a recurring step "
               f"pattern; {why}")
    return Finding(entities=tuple(starved), gpu_time_lost=lost, evidence=tuple(evidence),
                   summary=summary)


def _fmt(value: float, unit: str) -> str:
    if unit == "ratio":
        return pct(value)
    if unit == "bytes/s":
        return f"{value / 1e6:.0f} MB/s"
    return f"{value:.1f}"
