"""pcie-bound: host-device copies saturate the PCIe link while the SMs wait."""

from __future__ import annotations

import pandas as pd

from profiler.engine import Evidence, Finding, NotChecked, Thresholds, rule
from profiler.features import Features
from rules._attribution import (
    ATTRIBUTION_THRESHOLDS,
    attribute,
    attribution_evidence,
    gpu_names,
    host_gpus,
    hot,
    job_window,
    pct,
    weighted_mean,
)
from rules._links import PCIE_BUSY, pcie_capacity, pcie_util


def sm_wait(f: Features, th: Thresholds) -> pd.DataFrame:
    """Share of each bin the SMs were not working (1 - sm_active, else idle), job window only."""
    util = f.gpu_util()
    sm = f.wide("gpu.sm_active").reindex(index=util.index, columns=util.columns)
    wait = (1.0 - sm.clip(0.0, 1.0)).combine_first(1.0 - util)
    return wait.where(job_window(util, th.startup_util))


@rule(
    id="pcie-bound",
    title="Host-device copies saturate PCIe",
    needs=("gpu.util|gpu.gr_engine_active", "gpu.pcie_rx|gpu.pcie_tx"),
    thresholds={**ATTRIBUTION_THRESHOLDS, "pcie_busy": PCIE_BUSY},
    remediation="Copy less and overlap the rest: pinned host memory with non_blocking copies on "
                "a side stream, keep data on the GPU across steps, move decoding and "
                "augmentation to the GPU, send compact dtypes (uint8 images, not float32).",
    groups=("gpu", "interconnect"),
)
def pcie_bound(f: Features, th: Thresholds) -> list[Finding]:
    """Host-device copies saturate a GPU's PCIe link while its SMs wait.

    Fires when: on a host, GPUs' SMs wait more (1 - gpu.sm_active, or idle where SM activity
    is not recorded) while their PCIe link carries >= `pcie_busy` of the trained link's
    per-direction bandwidth (catalog.pcie_bandwidth of the fastest gen x width reached) than
    while it does not (lift >= `min_lift`, at least `min_z` standard errors), and that waiting
    is at least `min_gpu_time_lost` of the host's GPU-time. When the link is that busy in nearly
    every bin (>= `always_share`), it fires only if the SMs wait >= `always_min_idle` of the time.
    Does not fire when: the link is busy but the copies overlap with compute (SMs busy), the
    link generation and width are unknown (then: not checked), the GPUs are idle only during
    start-up or teardown, or the loss is below `min_gpu_time_lost`.
    Remedy: pinned memory and asynchronous copies on a side stream, fewer and smaller
    transfers, keep tensors on the GPU; a link below its maximum: see pcie-link-degraded.
    Sources: NVIDIA/nccl#1206 (PCIe protocol efficiency in NCCL's topology model);
    openucx/ucx#6416 (TLP overhead); DCGM profiling metrics (SM activity below 0.5 likely
    ineffective); TensorFlow profiler input-pipeline analysis (5 % / 20 % levels).
    """
    util = pcie_util(f)
    if util.empty or util.isna().all().all():
        raise NotChecked("PCIe link generation and width unknown: no gpu.pcie_gen/width "
                         "series and no PCIe maximum in the trace metadata")
    cause = hot(util, th.pcie_busy)
    wait = sm_wait(f, th)
    capacity = pcie_capacity(f)
    findings = []
    for host in f.hosts:
        gpus = [g for g in host_gpus(f, host) if util[g].notna().any()]
        if not gpus:
            continue
        a = attribute(f, cause[gpus], wait[gpus], th)
        if not a.fires:
            continue
        named = a.named_gpus(th)
        weight = wait[gpus].where(cause[gpus] > 0.5, 0.0).fillna(0.0)
        evidence = [attribution_evidence(a, host, "gpu.sm_active", "with SMs waiting")]
        for g in named:
            for metric in ("gpu.pcie_rx", "gpu.pcie_tx"):
                traffic = f.wide(metric)
                if g in traffic.columns:
                    evidence.append(Evidence(
                        metric, g, weighted_mean(traffic[g] / capacity[g], weight[g]),
                        th.pcie_busy, "ratio",
                        note=f"share of {capacity[g] / 1e9:.1f} GB/s per direction, mean "
                             "while the SMs wait during saturation"))
        link = max(weighted_mean(util[g], weight[g]) for g in named)
        summary = (f"{gpu_names(named)}: SMs wait {pct(a.idle_share(named))} of the time while "
                   f"host-device copies fill PCIe (up to {pct(link)} of the link)")
        if a.always:
            summary += "; the link is that busy throughout, so this rests on idle share"
        findings.append(Finding(entities=tuple(named), gpu_time_lost=a.co.lost,
                                evidence=tuple(evidence), summary=summary))
    return findings
