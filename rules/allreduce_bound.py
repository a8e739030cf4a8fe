"""allreduce-bound: exposed collective communication on a link near its limit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features
from rules._attribution import (
    ATTRIBUTION_THRESHOLDS,
    Attribution,
    attribute,
    gpu_names,
    host_gpus,
    hot,
    job_window,
    pct,
    weighted_mean,
)
from rules._links import NET_BUSY, NVLINK_BUSY, links_of_host, network_util, nvlink_util

TB_PLUGIN = "pytorch/kineto tb_plugin/torch_tb_profiler/profiler/data.py"
SM_LOW = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="DCGM profiling metrics, SM Activity: 'a value less than 0.5 likely indicates "
           "ineffective GPU usage' (NVIDIA DCGM user guide, feature overview)")
UTIL_BUSY = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source=f"the PyTorch TensorBoard plugin calls a GPU below 0.5 utilization 'low "
           f"utilization' ({TB_PLUGIN}, _analyze_gpu_metrics); at or above it a kernel (here "
           "NCCL's) is running most of the bin")
COMM_LOST = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"the PyTorch TensorBoard plugin reports 'high time cost on communication' above "
           f"10 % of step time ({TB_PLUGIN}, communication_ratio > 0.1)",
    help="smallest share of the host's GPU-time in exposed communication to report")


def exposed_comm(f: Features, th: Thresholds) -> pd.DataFrame:
    """bins x GPUs: the share of each bin in exposed communication (util high, SMs low)."""
    util = f.gpu_util()
    sm = f.wide("gpu.sm_active").reindex(index=util.index, columns=util.columns)
    exposed = (util >= th.util_busy) & (sm < th.sm_low)
    share = (util - sm).clip(lower=0.0).where(exposed, 0.0).where(util.notna() & sm.notna())
    return share.where(job_window(util, th.startup_util))


@rule(
    id="allreduce-bound",
    title="Collective communication dominates",
    needs=("gpu.util|gpu.gr_engine_active", "gpu.sm_active",
           "gpu.nvlink_tx|gpu.nvlink_rx|gpu.nvlink_total|ib.tx|ib.rx|nic.tx|nic.rx"),
    thresholds={**ATTRIBUTION_THRESHOLDS, "min_gpu_time_lost": COMM_LOST, "sm_low": SM_LOW,
                "util_busy": UTIL_BUSY, "nvlink_busy": NVLINK_BUSY, "net_busy": NET_BUSY},
    remediation="Overlap communication with compute (DDP bucketing, FSDP prefetch), communicate "
                "less (gradient accumulation, larger per-GPU batch, compression), and keep the "
                "heaviest collectives on NVLink: place tensor parallelism within a node.",
    groups=("gpu", "interconnect", "distributed"),
)
def allreduce_bound(f: Features, th: Thresholds) -> list[Finding]:
    """Collective communication dominates: GPUs look busy, SMs idle, a link runs near its limit.

    Fires when: on a host, the share of time GPUs spend in exposed communication (gpu.util >=
    `util_busy` while gpu.sm_active < `sm_low`, counted as util - sm_active) is larger while a
    link runs near its limit than while it does not (lift >= `min_lift`, at least `min_z`
    standard errors), and that time is at least `min_gpu_time_lost` of the host's GPU-time. A
    link is near its limit when NVLink carries >= `nvlink_busy` of its per-direction capacity (link
    count x per-link rate from the metadata or the GPU model), or an InfiniBand port or NIC on
    the host carries >= `net_busy` of its line rate. When a link is that busy in nearly every
    bin (>= `always_share`), it fires only if exposed communication is >= `always_min_idle`.
    Does not fire when: communication overlaps with compute (SMs busy), GPUs spin in NCCL
    while the links are quiet (waiting for a straggler or a slow rank: see straggler), link
    capacity is unknown (then: not checked), or the loss is below `min_gpu_time_lost`.
    Remedy: overlap communication with compute, communicate less per step, keep tensor
    parallelism on NVLink, check the fabric (ib.xmit_wait) when the network is the limit.
    Sources: DCGM profiling metrics (SM activity < 0.5); PyTorch TensorBoard plugin
    (communication > 10 % of step time); NVIDIA/nccl-tests#212 (NVLink protocol overhead);
    NVIDIA A100/H100 datasheets (NVLink link counts and rates); awesome-prometheus-alerts
    HostNetworkInterfaceSaturated.
    """
    nvl = nvlink_util(f)
    net = network_util(f)
    if nvl.isna().all().all() and (net.empty or net.isna().all().all()):
        raise NotChecked("link capacity unknown: no NVLink count/generation or GPU model in the "
                         "metadata, and no ib.rate or nic.speed")
    exposed = exposed_comm(f, th)
    nvl_hot = hot(nvl, th.nvlink_busy).reindex(columns=exposed.columns)
    findings = []
    for host in f.hosts:
        gpus = host_gpus(f, host)
        links = links_of_host(net, host)
        if not gpus:
            continue
        net_hot = hot(net[links], th.net_busy).max(axis=1) if links else None
        cause = nvl_hot[gpus]
        if net_hot is not None:
            spread = pd.DataFrame(np.repeat(net_hot.to_numpy()[:, None], len(gpus), axis=1),
                                  index=cause.index, columns=gpus)
            cause = pd.DataFrame(np.fmax(cause.to_numpy(), spread.to_numpy()),
                                 index=cause.index, columns=gpus)
        if cause.isna().all().all():
            continue
        a = attribute(f, cause, exposed[gpus], th)
        if not a.fires:
            cause = _steady_state(f, exposed[gpus], nvl, net[links], gpus, th)
            a = attribute(f, cause, exposed[gpus], th)
        if a.fires:
            findings.append(_finding(f, a, host, exposed[gpus], cause, nvl, net[links], th))
    return findings


def _steady_state(f: Features, exposed: pd.DataFrame, nvl: pd.DataFrame, net: pd.DataFrame,
                  gpus: list[str], th: Thresholds) -> pd.DataFrame:
    """The link as the cause in every bin, when it averages at its limit during the exposed
    communication; else never.

    A job bound by its links for the whole window spends the same share of every bin in NCCL,
    and the link hovers around its limit: noise, not the bottleneck, decides which bins cross
    the threshold, so the timing test sees no lift. GPUs running NCCL kernels with idle SMs is
    itself the mechanism; the link's level during that time says whether bandwidth binds."""
    level = nvl.reindex(index=exposed.index, columns=gpus) / th.nvlink_busy
    if not net.empty:
        busiest = (net / th.net_busy).max(axis=1).to_numpy()
        spread = np.repeat(busiest[:, None], len(gpus), axis=1)
        level = pd.DataFrame(np.fmax(level.to_numpy(), spread), index=exposed.index,
                             columns=gpus)
    weight = exposed.fillna(0.0).mean(axis=1)
    binding = weighted_mean(level.max(axis=1), weight) >= 1.0
    return level.notna().astype("float64").where(level.notna()) if binding else level * 0.0


def _finding(f: Features, a: Attribution, host: str, exposed: pd.DataFrame,
             cause: pd.DataFrame, nvl: pd.DataFrame, net: pd.DataFrame,
             th: Thresholds) -> Finding:
    named = a.named_gpus(th)
    weight = exposed.where(cause > 0.5, 0.0).fillna(0.0)
    host_weight = weight.mean(axis=1)
    sm = f.wide("gpu.sm_active")
    sm_mean = weighted_mean(sm[named].mean(axis=1), host_weight) if named else float("nan")
    evidence = [Evidence("gpu.sm_active", host, sm_mean, th.sm_low, "ratio",
                         note="mean during exposed communication on a hot link; "
                              + a.explain("in exposed communication"))]
    nvl_levels = {g: weighted_mean(nvl[g], weight[g]) for g in named if g in nvl.columns}
    nvl_levels = {g: v for g, v in nvl_levels.items() if v == v}
    directional = not (f.wide("gpu.nvlink_tx").empty and f.wide("gpu.nvlink_rx").empty)
    nvl_metric = "gpu.nvlink_tx" if directional else "gpu.nvlink_total"
    for g, level in nvl_levels.items():
        evidence.append(Evidence(nvl_metric, g, level, th.nvlink_busy, "ratio",
                                 note="busier direction over per-direction NVLink capacity, "
                                      "mean during exposed communication"))
    net_levels = {c: weighted_mean(net[c], host_weight) for c in net.columns}
    net_levels = {c: v for c, v in net_levels.items() if v == v}
    for link, level in net_levels.items():
        metric = "ib.tx" if link in f.wide("ib.rate").columns else "nic.tx"
        evidence.append(Evidence(metric, link, level, th.net_busy, "ratio",
                                 note="busier direction over line rate, mean during exposed "
                                      "communication"))
    waits = f.wide("ib.xmit_wait")
    for link in (c for c in waits.columns if c in net.columns):
        evidence.append(Evidence("ib.xmit_wait", link, weighted_mean(waits[link], host_weight),
                                 None, "1/s", note="ticks with data queued but not sent: "
                                                   "congestion when rising"))
    hot_links = [c for c, v in net_levels.items() if v >= th.net_busy]
    nvl_top = max(nvl_levels.values(), default=float("nan"))
    if nvl_top == nvl_top and nvl_top >= th.nvlink_busy:
        where = f"NVLink at {pct(nvl_top)} of its per-direction capacity"
        hot_links = []
    elif hot_links:
        where = ", ".join(f"{c} at {pct(net_levels[c])} of line rate" for c in hot_links)
    else:
        where = "links near their limit in the bins that matter"
    summary = (f"{gpu_names(named)} spend {pct(a.idle_share(named))} of the time in exposed "
               f"communication (SMs {pct(sm_mean)} active) with {where}")
    if a.always:
        summary += "; the link is that busy throughout, so this rests on the share, not timing"
    return Finding(entities=(*named, *hot_links), gpu_time_lost=a.co.lost,
                   evidence=tuple(evidence), summary=summary)
