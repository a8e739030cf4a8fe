"""memory-bandwidth-bound: DRAM busy while the compute pipes are quiet."""

from __future__ import annotations

import numpy as np

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules import _gpu_activity as ga

PIPES = ("gpu.tensor_active", "gpu.fp16_active", "gpu.fp32_active", "gpu.fp64_active")

BUSY_UTIL = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="project choice, as DCGM's SM-activity guidance (< 0.5 'likely ineffective'): a "
           "GPU running kernels at least half of a bin counts as busy in it",
    help="kernel-running share of a bin (gpu.util / gr_engine_active) for the bin to count")


@rule(
    id="memory-bandwidth-bound",
    title="Kernels limited by GPU memory bandwidth",
    needs=("gpu.dram_active", "gpu.tensor_active|gpu.fp16_active|gpu.fp32_active|gpu.fp64_active"),
    thresholds={"dram_busy": ga.DRAM_BUSY, "pipe_active": ga.PIPE_ACTIVE,
                "busy_util": BUSY_UTIL, "min_busy_share": ga.MIN_BUSY_SHARE,
                "warning_share": ga.WARNING_SHARE},
    remediation="Move fewer bytes per FLOP: fuse element-wise ops (torch.compile, fused "
                "optimizers and norms, FlashAttention), use larger batches or sequence tiles, "
                "lower-precision activations and weights (bf16, fp8, int8 KV cache), and "
                "contiguous, aligned layouts (channels-last for convolutions).",
    groups=("gpu", "workload"),
)
def memory_bandwidth_bound(f: Features, th: Thresholds) -> list[Finding]:
    """The GPU's DRAM interface is busy while its compute pipes are mostly idle.

    Fires when: in at least `min_busy_share` of a GPU's busy bins (kernels running at least
    `busy_util` of the bin; every bin with DRAM data where utilization was not recorded) DRAM
    activity is at least `dram_busy` while every recorded compute pipe (tensor, FP16, FP32,
    FP64) is below `pipe_active`: the kernels wait on memory, not on arithmetic. Severity:
    warning from `warning_share` of busy time, else info. gpu_time_lost is None: memory-bound
    kernels keep the GPU busy, and how much faster a fused or re-laid-out kernel would run
    cannot be read from these counters.
    Does not fire when: DRAM and a compute pipe are both busy (balanced, near the roofline
    ridge); DRAM is quiet (latency-bound or launch-bound kernels); the GPU is idle.
    Remedy: fuse memory-bound ops, raise arithmetic intensity (bigger batches, tiling), use
    narrower data types and contiguous layouts.
    Sources: DCGM profiling metrics DRAM_ACTIVE and PIPE_*_ACTIVE (DCGM user guide, feature
    overview); KempnerPulse 'memory-bound' class (DRAM >= 50 %); the roofline model (Williams,
    Waterman, Patterson, CACM 2009).
    """
    dram = ga.metric(f, "gpu.dram_active")
    pipes = ga.busiest(f, PIPES)
    util = ga.metric(f, "gpu.util").combine_first(ga.metric(f, "gpu.gr_engine_active"))
    busy = ((util >= th.busy_util) | (util.isna() & dram.notna())) & dram.notna()
    match = busy & (dram >= th.dram_busy) & (pipes < th.pipe_active)
    share = ga.share_of_busy(match, busy)
    fired = share.index[share >= th.min_busy_share]
    findings = []
    for gpu in fired:
        s = float(share[gpu])
        sel = match[gpu]
        d_m, p_m = float(dram[gpu][sel].median()), float(pipes[gpu][sel].median())
        evidence = [
            Evidence("gpu.dram_active", gpu, s, th.min_busy_share, "ratio",
                     "share of busy time with DRAM busy and compute pipes quiet"),
            Evidence("gpu.dram_active", gpu, d_m, th.dram_busy, "ratio",
                     "median DRAM activity in those bins"),
        ]
        evidence += [Evidence(name, gpu, float(ga.metric(f, name)[gpu][sel].median()),
                              th.pipe_active, "ratio", "median pipe activity in those bins")
                     for name in PIPES if f.has(name)]
        notes = (() if f.has("gpu.util") or f.has("gpu.gr_engine_active") else
                 ("GPU utilization not recorded: every bin with DRAM data counted as busy",))
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=None,
            severity=ga.severity(s, th.warning_share),
            evidence=tuple(evidence),
            summary=(f"{gpu} memory-bandwidth-bound {ga.pct(s)} of busy time "
                     f"(DRAM {ga.pct(d_m)} active, busiest compute pipe "
                     f"{ga.pct(p_m) if np.isfinite(p_m) else '?'})"),
            notes=notes,
        ))
    return findings
