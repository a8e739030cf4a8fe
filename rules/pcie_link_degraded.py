"""pcie-link-degraded: a GPU's PCIe link trained below its maximum generation or width."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.catalog import PCIE_LANE_BYTES_PER_S, pcie_bandwidth
from profiler.engine import WARNING_LOSS, Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features
from rules._gpu_clocks import on_gpus, pct, total_gpu_bins

BUSY_UTIL = Threshold(
    0.80, unit="ratio", bounds=(0.0, 1.0),
    source="nvml.md §3.5: current gen/width drop when the GPU is not in use; the link sample is "
           "instantaneous and utilization a bin average that counts any kernel at all (§3.1), "
           "so a half-busy bin of a starved job is mostly short kernels between gaps in which "
           "the link sleeps; from 0.8 the sample falls in busy time, with the GPU in P0 and its "
           "link at full speed, at least 4 times in 5",
    help="utilization at or above which a bin counts as busy for the link check")
MIN_BUSY = Threshold(
    20.0, unit="count", bounds=(1.0, 1e6),
    source="statistics: a power-managed link that is at its maximum in only 1 of 4 busy samples "
           "still shows it in more than 1 in 10 of 20 samples (the best_quantile test) with "
           "probability 0.976; on 1 or 2 samples the test is a coin toss",
    help="busy samples a GPU needs before its link speed under load is judged")
BEST_QUANTILE = Threshold(
    0.90, unit="ratio", bounds=(0.5, 1.0),
    source="physics: a link that trained down stays down until it is retrained, so it is below "
           "its maximum in every busy sample; a power-managed link returns to full speed under "
           "load, so its best busy samples reach the maximum however often the job idles (a "
           "data-starved job can be downtrained in most samples yet be healthy)",
    help="quantile of the busy samples' generation and width that must still be below the "
         "maximum: the link's 'best under load'")
SATURATION = Threshold(
    0.70, unit="ratio", bounds=(0.0, 1.0),
    source="physics: TLP/DLLP framing leaves ~80-90 % of the line-coded rate for payload "
           "(256 B max payload: 256/(256+24) = 91 %, less ACK and flow-control DLLPs); 70 % of "
           "the degraded link's rate is within ~15 % of its practical ceiling",
    help="traffic / degraded link bandwidth at or above which the link counts as saturated")

_LANE = np.array([0.0] + [PCIE_LANE_BYTES_PER_S[g] for g in range(1, 7)])


@rule(
    id="pcie-link-degraded",
    title="PCIe link below its maximum speed or width",
    needs=("gpu.pcie_gen|gpu.pcie_width|gpu.pcie_gen_max|gpu.pcie_width_max",),
    thresholds={"busy_util": BUSY_UTIL, "min_busy": MIN_BUSY, "best_quantile": BEST_QUANTILE,
                "saturation": SATURATION},
    remediation="Reseat the GPU and its riser, check the slot's BIOS link settings (forced "
                "Gen, bifurcation), look for PCIe replay errors (AER in dmesg, "
                "nvidia-smi -q -d PCIE); a slot or riser that cannot run the GPU's generation "
                "or width needs another slot.",
    groups=("gpu", "pcie", "hardware"),
    merge_per_host=False,  # each link trains on its own: one finding per degraded GPU
)
def pcie_link_degraded(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU's PCIe link runs below the generation or width the GPU supports.

    Fires when: while the GPU is busy (utilization >= `busy_util`, in at least `min_busy` samples)
    even its best link generation or width (the `best_quantile` of its busy samples) is below the
    maximum (gpu.pcie_gen_max / width_max, else the GPU's metadata); or the maximum the system
    allows (gpu.pcie_*_max: GPU and slot) is below the GPU's own maximum in metadata (a slot or
    riser limits it for good). Severity warning. gpu_time_lost is None unless PCIe traffic shows the
    degraded link saturated (max of TX, RX >= `saturation` x its bandwidth): then the bins cost 1 -
    degraded/full bandwidth each, an upper bound that assumes transfers do not overlap compute;
    reported when it reaches the warning level, else shown as evidence only.
    Does not fire when: the link trains down only while the GPU is idle or between bursts of
    work (power saving, normal: it still reaches its maximum under load); current and maximum
    agree; the GPU is busy in fewer than `min_busy` samples (too few to tell a link that
    trained down from one that sleeps between kernels).
    Remedy: reseat GPU and riser, fix BIOS link settings, move the GPU to a full-speed slot.
    Sources: NVML nvmlDeviceGetCurrPcieLinkGeneration / Width, GetMaxPcieLinkGeneration /
    Width, GetGpuMaxPcieLinkGeneration (nvml.md §3.5, "current gen/width drop at idle");
    nvidia-smi pcie.link.gen.current ("may be reduced when the GPU is not in use"); PCIe
    per-lane rates in profiler.catalog.PCIE_LANE_BYTES_PER_S.
    """
    gen, width = on_gpus(f, f.wide("gpu.pcie_gen")), on_gpus(f, f.wide("gpu.pcie_width"))
    sys_gen = on_gpus(f, f.wide("gpu.pcie_gen_max")).max()
    sys_width = on_gpus(f, f.wide("gpu.pcie_width_max")).max()
    own_gen, own_width = _meta(f, "pcie_max_gen"), _meta(f, "pcie_max_width")
    max_gen, max_width = sys_gen.fillna(own_gen), sys_width.fillna(own_width)
    own_gen, own_width = own_gen.fillna(sys_gen), own_width.fillna(sys_width)
    util = on_gpus(f, f.gpu_util())
    static = (sys_gen < _meta(f, "pcie_max_gen")) | (sys_width < _meta(f, "pcie_max_width"))
    link = gen.notna() | width.notna()
    checkable = (link & util.notna()).any() & (max_gen.notna() | max_width.notna())
    if not (checkable | static).any():
        raise NotChecked(_why_not(max_gen, max_width, util, link))
    busy = (util >= th.busy_util) & link
    low = gen.lt(max_gen, axis=1) | width.lt(max_width, axis=1)
    n_busy = busy.sum()
    share = (busy & low).sum() / n_busy.where(n_busy > 0)
    best_gen = gen.where(busy).quantile(th.best_quantile)
    best_width = width.where(busy).quantile(th.best_quantile)
    dynamic = ((best_gen < max_gen) | (best_width < max_width)) & (n_busy >= th.min_busy)
    fired = share.index[dynamic | static]
    cur_gen, cur_width = gen.fillna(max_gen), width.fillna(max_width)
    link_bw = pd.DataFrame(_LANE[cur_gen.fillna(0).clip(0, 6).astype("int64").to_numpy()]
                           * cur_width.to_numpy(), index=f.index, columns=gen.columns)
    traffic = pd.DataFrame(np.fmax(on_gpus(f, f.wide("gpu.pcie_tx")).to_numpy(),
                                   on_gpus(f, f.wide("gpu.pcie_rx")).to_numpy()),
                           index=f.index, columns=gen.columns)
    denominator = max(total_gpu_bins(f, util), 1)
    findings = []
    for gpu in fired:
        below = busy[gpu] & low[gpu] if bool(dynamic[gpu]) else busy[gpu]
        # a link runs at a whole generation and lane count: bin means of two samples are not
        g_now = np.round(cur_gen[gpu][below].median() if below.any() else max_gen[gpu])
        w_now = np.round(cur_width[gpu][below].median() if below.any() else max_width[gpu])
        full = pcie_bandwidth(float(own_gen[gpu]), float(own_width[gpu]))
        # a saturated link is moving data whatever utilization says, so every degraded bin counts
        degraded = low[gpu] if bool(dynamic[gpu]) else link[gpu]
        sat = degraded & (traffic[gpu] >= th.saturation * link_bw[gpu])
        lost = float((1.0 - link_bw[gpu][sat] / full).clip(lower=0.0).sum()) / denominator
        findings.append(_finding(th, gpu, (float(g_now), float(w_now)),
                                 (float(np.round(own_gen[gpu])), float(np.round(own_width[gpu]))),
                                 float(share[gpu]) if bool(dynamic[gpu]) else None,
                                 float(sat.sum() / max(int(degraded.sum()), 1)), lost))
    return findings


def _link(gen: float, width: float) -> str:
    parts = ([f"Gen{gen:.0f}"] if np.isfinite(gen) else []) + (
        [f"x{width:.0f}"] if np.isfinite(width) else [])
    return " ".join(parts)


def _finding(th: Thresholds, gpu: str, now: tuple[float, float], full: tuple[float, float],
             share: float | None, sat_share: float, lost: float) -> Finding:
    """One finding; a generation or width that was never recorded is left out, not guessed."""
    (g, w), (g_max, w_max) = now, full
    evidence = []
    gen_known, width_known = np.isfinite(g) and np.isfinite(g_max), np.isfinite(w) and np.isfinite(
        w_max)
    if gen_known:
        evidence.append(Evidence("gpu.pcie_gen", gpu, g, g_max, "generation",
                                 "link generation while busy (threshold: the maximum)"))
    if width_known:
        evidence.append(Evidence("gpu.pcie_width", gpu, w, w_max, "count",
                                 "link width in lanes while busy (threshold: the maximum)"))
    lane = (_LANE[int(g)] / _LANE[int(g_max)]) if gen_known and 0 < g_max <= 6 else 1.0
    ratio = lane * (w / w_max if width_known and w_max > 0 else 1.0)
    if gen_known and width_known:
        bw, bw_max = pcie_bandwidth(g, w), pcie_bandwidth(g_max, w_max)
        evidence.append(Evidence("gpu.pcie_gen", gpu, bw_max - bw, None, "bytes/s",
                                 f"per-direction bandwidth lost: {bw / 1e9:.1f} of "
                                 f"{bw_max / 1e9:.1f} GB/s"))
        speed = f"{bw / 1e9:.1f} of {bw_max / 1e9:.1f} GB/s per direction"
    else:
        speed = f"{pct(ratio)} of the full link's bandwidth"
    if share is not None:
        evidence.append(Evidence("gpu.pcie_gen", gpu, share, None, "ratio",
                                 "share of busy samples with the link below its maximum"))
    if sat_share > 0:
        evidence.append(Evidence("gpu.pcie_tx", gpu, sat_share, th.saturation, "ratio",
                                 f"share of degraded samples with the link saturated; "
                                 f"estimated loss {pct(lost)} of GPU-time (upper bound)"))
    where = (f"at {_link(g, w)} in {pct(share)} of busy samples" if share is not None
             else f"limited by its slot to {_link(g, w)}")
    return Finding(
        entities=(gpu,),
        gpu_time_lost=lost if lost >= WARNING_LOSS else None,
        severity="warning",
        evidence=tuple(evidence),
        summary=f"{gpu} PCIe link {where} (GPU supports {_link(g_max, w_max)}): {speed}",
    )


def _meta(f: Features, field: str) -> pd.Series:
    values = {}
    for gpu in f.gpus:
        host, _, entity = gpu.partition("/")
        info = f.trace.meta.gpu(host, entity)
        value = getattr(info, field, None) if info else None
        values[gpu] = float(value) if value else np.nan
    return pd.Series(values, index=pd.Index(f.gpus, dtype="object"), dtype="float64")


def _why_not(max_gen: pd.Series, max_width: pd.Series, util: pd.DataFrame,
             link: pd.DataFrame) -> str:
    if not (max_gen.notna() | max_width.notna()).any():
        return ("no maximum PCIe generation or width to compare with (gpu.pcie_gen_max / "
                "gpu.pcie_width_max or the GPUs' metadata)")
    if not link.to_numpy().any():
        return "no current PCIe generation or width (gpu.pcie_gen / gpu.pcie_width)"
    return ("no GPU utilization to tell busy from idle samples (links train down at idle "
            "by design)")
