"""straggler: one GPU (or host) slower than its peers holds the others at sync points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features, host_of
from rules._attribution import MIN_GPU_TIME_LOST, STARTUP_UTIL, job_window, pct

MIN_PEER_WAIT = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source="peers waiting for a straggler wait inside the collective, which a step profile "
           "shows as communication time; the PyTorch TensorBoard plugin reports 'high time "
           "cost on communication' above 10 % of step time (pytorch/kineto tb_plugin/"
           "torch_tb_profiler/profiler/data.py); GPUs of one job also differ by a few points "
           "of NVML utilization without any straggler",
    help="peers' median busy share must be at least this far below the straggler's, relative")
OUTLIER_MADS = Threshold(
    3.0, unit="scaled MADs", bounds=(0.0, 100.0),
    source="statistics: robust outlier test, |x - median| > 3 x 1.4826 x MAD (Leys et al. 2013, "
           "J. Exp. Soc. Psychol. 49:764, recommend 2.5-3)",
    help="the straggler must stand this far above the spread of its peers")


def busy_shares(f: Features, th: Thresholds) -> tuple[pd.Series, str]:
    """Per GPU: mean busy share over its job window (SM activity where every GPU has it)."""
    util = f.gpu_util()
    window = job_window(util, th.startup_util)
    sm = f.wide("gpu.sm_active").reindex(index=util.index, columns=util.columns)
    active = [g for g in util.columns if window[g].any()]
    if active and sm[active].where(window[active]).notna().any().all():
        return sm.where(window).mean()[active], "gpu.sm_active"
    return util.where(window).mean()[active], "gpu.util"


def _mad(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _stands_out(own: float, peers: np.ndarray, th: Thresholds) -> bool:
    if own <= 0 or len(peers) == 0:
        return False
    median = float(np.median(peers))
    return (1.0 - median / own >= th.min_peer_wait
            and own - median > th.outlier_mads * _mad(peers))


def _loss(own: float, peers: pd.Series, f: Features) -> float:
    """Peers' waiting: each peer's shortfall against the straggler, over its observed bins."""
    observed = f.gpu_util().notna().sum().reindex(peers.index)
    waits = (1.0 - peers / own).clip(lower=0.0)
    return float((waits * observed).sum()) / (f.gpu_bins() or 1)


@rule(
    id="straggler",
    title="A straggler holds its peers back",
    needs=("gpu.util|gpu.gr_engine_active",),
    thresholds={"min_peer_wait": MIN_PEER_WAIT, "outlier_mads": OUTLIER_MADS,
                "min_gpu_time_lost": MIN_GPU_TIME_LOST, "startup_util": STARTUP_UTIL},
    remediation="Find why the straggler is slower: throttling (clocks, temperature, power), a "
                "degraded PCIe or NVLink link, a noisy neighbour on its host, or uneven work "
                "(rank 0 logging or evaluating); fix it or take the GPU out of the job.",
    groups=("gpu", "distributed"),
)
def straggler(f: Features, th: Thresholds) -> list[Finding]:
    """One GPU or host works while its peers wait at the synchronisation points.

    Fires when: where every GPU records SM activity, one GPU's sync wait (its time in kernels
    with idle SMs, util - sm_active: spinning in a collective) is below its peers' median by at
    least `min_peer_wait` and by more than `outlier_mads` scaled MADs: the peers wait for it,
    whatever makes it slow (clocks, a starved host thread, a slow link); the loss is the
    peers' extra waiting. Otherwise (utilization only), among the GPUs that ran work (at least
    `startup_util` in some bin), one GPU's busy share (gpu.sm_active where every such GPU has
    it, else gpu.util) is above its peers'
    median by at least `min_peer_wait` of its own and by more than `outlier_mads` scaled MADs
    of the peers, with at least two peers and the stragglers a minority; or, across hosts, all
    GPUs of one host are busier than every GPU elsewhere by the same tests. Its peers' waiting
    (1 - peer / straggler busy share) must be at least `min_gpu_time_lost` of all GPU-time.
    The finding names exactly the straggling GPU or host; clocks are shown as evidence.
    Does not fire when: GPUs are uniformly busy, half or more of them are "slow" (two jobs of
    different weight, not a straggler), fewer than three GPUs ran work, or the peers wait in
    spinning NCCL kernels and only gpu.util is recorded (util cannot see that wait). Two
    independent jobs of different weight can look like a straggler: check they are one job.
    Remedy: look at the straggler's clocks, temperature, power and links, its host's CPU and
    input pipeline, or uneven work on one rank.
    Sources: NVIDIA DCGM profiling metrics (SM activity); PyTorch TensorBoard plugin
    (communication above 10 % of step time); TensorFlow profiler 5 % floor;
    Leys et al. 2013 (median absolute deviation outlier test).
    """
    synced = _sync_wait_stragglers(f, th)
    if synced:
        return synced
    busy, metric = busy_shares(f, th)
    busy = busy[busy > 0]
    if len(busy) < 3:
        return []
    host_level = _host_straggler(f, busy, metric, th)
    if host_level is not None:
        return [host_level]
    findings = []
    candidates = [g for g in busy.index
                  if _stands_out(float(busy[g]), busy.drop(g).to_numpy(), th)]
    if not candidates or len(candidates) * 2 >= len(busy):
        return []
    peers = busy.drop(candidates)
    for g in candidates:
        lost = _loss(float(busy[g]), peers, f)
        if lost >= th.min_gpu_time_lost:
            findings.append(_finding(f, (g,), busy[[g]], float(busy[g]), peers, metric, lost,
                                     th))
    return findings


def sync_waits(f: Features, th: Thresholds) -> pd.Series:
    """Per GPU (where every active GPU has SM activity): the mean share of its job window spent
    with a kernel running but its SMs idle, util - sm_active: in a synchronous job, the time a
    rank sits in a collective waiting for the others."""
    util = f.gpu_util()
    window = job_window(util, th.startup_util)
    sm = f.wide("gpu.sm_active").reindex(index=util.index, columns=util.columns)
    active = [g for g in util.columns if window[g].any()]
    if not active or not sm[active].where(window[active]).notna().any().all():
        return pd.Series(dtype="float64")
    wait = (util - sm.clip(0.0, 1.0)).clip(lower=0.0).where(window)
    return wait.mean()[active]


def _sync_wait_stragglers(f: Features, th: Thresholds) -> list[Finding]:
    """The GPU that does not wait while its peers wait for it at every synchronisation.

    Whatever makes a rank slow (low clocks, a starved host thread, a slow link), its peers
    reach the collective first and spin in NCCL with idle SMs; the straggler arrives last and
    hardly waits. So a straggler is a GPU whose sync wait is far below its peers'."""
    waits = sync_waits(f, th)
    if len(waits) < 3:
        return []
    candidates = []
    for g in waits.index:
        peers = waits.drop(g).to_numpy()
        median = float(np.median(peers))
        if (median - float(waits[g]) >= th.min_peer_wait
                and median - float(waits[g]) > th.outlier_mads * _mad(peers)):
            candidates.append(g)
    if not candidates or len(candidates) * 2 >= len(waits):
        return []
    peers = waits.drop(candidates)
    observed = f.gpu_util().notna().sum().reindex(peers.index)
    busy, _ = busy_shares(f, th)
    findings = []
    for g in candidates:
        extra = (peers - float(waits[g])).clip(lower=0.0)
        lost = float((extra * observed).sum()) / (f.gpu_bins() or 1)
        if lost >= th.min_gpu_time_lost:
            findings.append(_sync_finding(f, g, float(waits[g]), peers, busy, lost, th))
    return findings


def _sync_finding(f: Features, gpu: str, own: float, peers: pd.Series, busy: pd.Series,
                  lost: float, th: Thresholds) -> Finding:
    median = float(peers.median())
    evidence = [
        Evidence("gpu.sm_active", gpu, own, None, "ratio",
                 note="share of its time in kernels with idle SMs (util - SM activity): it "
                      "hardly waits at the synchronisation points"),
        Evidence("gpu.sm_active", ",".join(sorted({host_of(str(p)) for p in peers.index})),
                 median, own + th.min_peer_wait, "ratio",
                 note=f"median of {len(peers)} peers: the time they wait for it in the "
                      "collective (util high, SMs idle)"),
    ]
    if gpu in busy.index:
        evidence.append(Evidence("gpu.util", gpu, float(busy[gpu]), None, "ratio",
                                 note="its busy share over the job window"))
    clocks = f.clock_ratio()
    if not clocks.empty and gpu in clocks.columns:
        mine, theirs = clocks[gpu].mean(), clocks.reindex(columns=list(peers.index)).mean()
        if mine == mine and theirs.notna().any():
            evidence.append(Evidence("gpu.clock_sm", gpu, float(mine), float(theirs.median()),
                                     "ratio", note="SM clock over its maximum (threshold: "
                                                   "peers' median)"))
    summary = (f"GPU {gpu} is the straggler: its {len(peers)} peers wait for it "
               f"{pct(median)} of the time at the synchronisation points, it waits "
               f"{pct(own)}")
    return Finding(entities=(gpu,), gpu_time_lost=lost, evidence=tuple(evidence),
                   summary=summary)


def _host_straggler(f: Features, busy: pd.Series, metric: str,
                    th: Thresholds) -> Finding | None:
    hosts = sorted({host_of(g) for g in busy.index})
    if len(hosts) < 2:
        return None
    found = []
    for host in hosts:
        own = busy[[host_of(g) == host for g in busy.index]]
        others = busy[[host_of(g) != host for g in busy.index]]
        if own.min() > others.max() and _stands_out(float(own.median()), others.to_numpy(), th):
            found.append((host, own, others))
    if len(found) != 1:
        return None
    host, own, others = found[0]
    lost = _loss(float(own.median()), others, f)
    if lost < th.min_gpu_time_lost:
        return None
    return _finding(f, (host,), own, float(own.median()), others, metric, lost, th)


def _finding(f: Features, entities: tuple[str, ...], slow: pd.Series, own: float,
             peers: pd.Series, metric: str, lost: float, th: Thresholds) -> Finding:
    median = float(peers.median())
    evidence = [Evidence(metric, str(g), float(v), None, "ratio",
                         note="busy share over the job window (straggling)")
                for g, v in slow.items()]
    peer_hosts = ",".join(sorted({host_of(str(g)) for g in peers.index}))
    evidence.append(Evidence(metric, peer_hosts, median, own * (1.0 - th.min_peer_wait), "ratio",
                             note=f"median busy share of {len(peers)} peers; they wait "
                                  f"{pct(1.0 - median / own)} of the time"))
    clocks = f.clock_ratio()
    if not clocks.empty:
        mine = clocks.reindex(columns=list(slow.index)).mean().mean()
        theirs = clocks.reindex(columns=list(peers.index)).mean().median()
        if mine == mine and theirs == theirs:
            evidence.append(Evidence("gpu.clock_sm", entities[0], float(mine), float(theirs),
                                     "ratio", note="SM clock over its maximum (threshold: "
                                                   "peers' median)"))
    what = entities[0] if len(entities) == 1 else ", ".join(entities)
    kind = "host" if "/" not in what else "GPU"
    summary = (f"{kind} {what} is the straggler: busy {pct(own)} of the time while its "
               f"{len(peers)} peer GPUs are busy {pct(median)} and wait for it")
    return Finding(entities=entities, gpu_time_lost=lost, evidence=tuple(evidence),
                   summary=summary)
