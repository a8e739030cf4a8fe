"""gpu-idle: GPUs hold memory but do no work (stuck or forgotten jobs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features, host_of
from rules._attribution import STARTUP_UTIL, gpu_names, host_gpus, pct, weighted_mean

GIB = 1024.0**3
IDLE_UTIL = Threshold(
    0.01, unit="ratio", bounds=(0.0, 1.0),
    source="NVML reports utilization in whole percent (nvml.md 3.1), 0 % meaning no kernel "
           "ran; Princeton's jdh4/job_defense_shield reports 'GPU-hours at 0% utilization'; "
           "0.01 lets one 1 % blip through")
FB_HELD = Threshold(
    GIB, unit="bytes", bounds=(0.0, 1e15),
    source="a bare CUDA context takes ~300 MiB since CUDA 11.7's lazy loading "
           "(pytorch/pytorch#107667) and 200-700 MiB before (pytorch/pytorch#28113); NVML's "
           "v2 memory.used excludes driver-reserved memory and reads 0 on an idle H100 "
           "(nvml.md 3.3): 1 GiB is data a process put there")
MIN_IDLE_RUN = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="'most of the window' read literally: one unbroken idle stretch longer than half "
           "the window is a stopped job, not the pauses of a running one (which data-starved "
           "covers)")


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D boolean array."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0


@rule(
    id="gpu-idle",
    title="GPUs held but idle",
    needs=("gpu.util|gpu.gr_engine_active", "gpu.fb_used|gpu.process_count"),
    thresholds={"idle_util": IDLE_UTIL, "fb_held": FB_HELD, "min_idle_run": MIN_IDLE_RUN,
                "startup_util": STARTUP_UTIL},
    remediation="Find the process holding the GPU (nvidia-smi, the job scheduler) and end it, "
                "or release GPUs from idle notebooks; add an idle timeout to interactive "
                "sessions and a watchdog for hung distributed jobs.",
    groups=("gpu", "utilization"),
)
def gpu_idle(f: Features, th: Thresholds) -> list[Finding]:
    """GPUs hold memory but run nothing for most of the window: stuck or forgotten jobs.

    Fires when: a GPU holds memory (gpu.fb_used >= `fb_held`, or gpu.process_count >= 1) and
    runs no kernel (gpu.util <= `idle_util`) for one unbroken stretch of at least
    `min_idle_run` of its observed window. Idle bins before the GPU's first busy bin (>=
    `startup_util`) are start-up and do not count; idle at the end does (a hung job). The loss
    is every held-and-idle bin after start-up.
    Does not fire when: the GPU holds no memory and runs no process (it is free, not held),
    the job pauses briefly and often (a step pattern: see data-starved), or the idle time is
    start-up followed by work.
    Remedy: end the stuck or forgotten process, release GPUs from idle notebooks, add idle
    timeouts and hang watchdogs.
    Sources: NVML utilization semantics; pytorch/pytorch#107667 and #28113 (CUDA context
    size); jdh4/job_defense_shield (zero-utilization GPU-hours).
    """
    util = f.gpu_util()
    fb = f.wide("gpu.fb_used").reindex(index=util.index, columns=util.columns)
    procs = f.wide("gpu.process_count").reindex(index=util.index, columns=util.columns)
    holding = np.fmax((fb >= th.fb_held).astype("float64").where(fb.notna()).to_numpy(),
                      (procs >= 1).astype("float64").where(procs.notna()).to_numpy()) > 0.5
    active = (util >= th.startup_util).to_numpy()
    first = np.where(active.any(axis=0), active.argmax(axis=0), 0)
    after_start = np.arange(len(util))[:, None] >= first[None, :]
    idle = (util <= th.idle_util).to_numpy() & holding & after_start
    total = f.gpu_bins() or 1
    observed = util.notna().sum()
    stuck: dict[str, list[str]] = {}
    for i, gpu in enumerate(util.columns):
        if observed[gpu] and longest_run(idle[:, i]) >= th.min_idle_run * observed[gpu]:
            stuck.setdefault(host_of(gpu), []).append(gpu)
    idle_frame = pd.DataFrame(idle, index=util.index, columns=util.columns)
    return [_finding(f, gpus, idle_frame, fb, procs, observed, total, th)
            for host in f.hosts if (gpus := [g for g in host_gpus(f, host) if g in
                                             stuck.get(host, [])])]


def _finding(f: Features, gpus: list[str], idle: pd.DataFrame, fb: pd.DataFrame,
             procs: pd.DataFrame, observed: pd.Series, total: int,
             th: Thresholds) -> Finding:
    util = f.gpu_util()
    evidence = []
    for g in gpus:
        weight = idle[g].astype("float64")
        share = float(idle[g].sum()) / float(observed[g])
        evidence.append(Evidence("gpu.util", g, weighted_mean(util[g], weight), th.idle_util,
                                 "ratio", note=f"mean over the {pct(share)} of the window the "
                                               "GPU was held but idle"))
        if fb[g].notna().any():
            evidence.append(Evidence("gpu.fb_used", g, weighted_mean(fb[g], weight),
                                     th.fb_held, "bytes", note="memory held while idle"))
        if procs[g].notna().any():
            evidence.append(Evidence("gpu.process_count", g, weighted_mean(procs[g], weight),
                                     1.0, "count", note="compute processes while idle"))
    lost = float(idle[gpus].to_numpy().sum()) / total
    held_gib = sum(weighted_mean(fb[g], idle[g].astype("float64")) for g in gpus
                   if fb[g].notna().any()) / GIB
    share = float(idle[gpus].to_numpy().sum()) / float(observed[gpus].sum())
    memory = f"hold {held_gib:.1f} GiB but " if held_gib == held_gib and held_gib > 0 else \
        "hold a process but "
    summary = (f"{gpu_names(gpus)} {memory}ran no kernel for {pct(share)} of the window: a "
               "stuck or forgotten job")
    return Finding(entities=tuple(gpus), gpu_time_lost=lost, evidence=tuple(evidence),
                   summary=summary)
