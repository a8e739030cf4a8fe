"""tensor-cores-unused: SMs busy on FP32/FP16 math while the tensor cores sit idle."""

from __future__ import annotations

import numpy as np

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules import _gpu_activity as ga

SM_BUSY = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="DCGM user guide, profiling metrics: SM activity 'less than 0.5 likely indicates "
           "ineffective GPU usage' (quoted in KempnerPulse docs/classification.md)",
    help="SM activity (else graphics-engine activity) at or above which the SMs count as busy")
TENSOR_IDLE = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source="project choice, a third of KempnerPulse's 15 % 'tensor compute' floor "
           "(docs/classification.md): under 5 % of cycles the tensor pipes do no useful work",
    help="tensor-pipe activity below which the tensor cores count as idle")


@rule(
    id="tensor-cores-unused",
    title="Tensor cores idle while the SMs compute",
    needs=("gpu.sm_active|gpu.gr_engine_active", "gpu.tensor_active",
           "gpu.fp32_active|gpu.fp16_active|gpu.dram_active"),
    thresholds={"sm_busy": SM_BUSY, "tensor_idle": TENSOR_IDLE, "pipe_active": ga.PIPE_ACTIVE,
                "dram_busy": ga.DRAM_BUSY, "min_busy_share": ga.MIN_BUSY_SHARE,
                "warning_share": ga.WARNING_SHARE},
    remediation="Run matrix math on the tensor cores: mixed precision (torch.autocast with "
                "bf16/fp16, JAX/TF mixed-precision policies), or at least TF32 for FP32 "
                "matmuls (torch.backends.cuda.matmul.allow_tf32 / "
                "torch.set_float32_matmul_precision('high')); keep matrix dimensions multiples "
                "of 8.",
    groups=("gpu", "workload"),
)
def tensor_cores_unused(f: Features, th: Thresholds) -> list[Finding]:
    """The SMs are busy with FP32/FP16 arithmetic but the tensor cores are idle.

    Fires when: in at least `min_busy_share` of a GPU's busy bins (SM activity, else
    graphics-engine activity, >= `sm_busy`) the tensor pipes are below `tensor_idle` while the
    FP32 or FP16 pipe is at least `pipe_active` (where those pipes are not recorded, as in
    dcgm-exporter's default set: while DRAM activity is under `dram_busy`, so the SMs are
    computing rather than waiting on memory). Severity: warning from `warning_share` of busy
    time, else info. gpu_time_lost is None: the speed-up from tensor cores depends on how much
    of the work is matrix math, which these counters cannot tell, so no cost is claimed.
    Does not fire when: the tensor pipes are active (mixed precision or TF32 already on); the
    GPU is idle or its SMs mostly idle; the FP pipes are quiet too (memory-bound or latency-bound
    kernels: memory-bandwidth-bound); FP64 dominates (double-precision HPC codes, where mixed
    precision is not the advice).
    Remedy: enable bf16/fp16 autocast, or TF32 for FP32 matmuls and convolutions.
    Sources: DCGM profiling metrics PIPE_TENSOR_ACTIVE, PIPE_FP32/FP16/FP64_ACTIVE, SM_ACTIVE
    (DCGM user guide, feature overview); KempnerPulse workload classification thresholds.
    """
    sm = ga.metric(f, "gpu.sm_active")
    if not f.has("gpu.sm_active"):
        sm = ga.metric(f, "gpu.gr_engine_active")
    tensor = ga.metric(f, "gpu.tensor_active")
    fp = ga.busiest(f, ("gpu.fp32_active", "gpu.fp16_active"))
    fp64 = ga.metric(f, "gpu.fp64_active")
    dram = ga.metric(f, "gpu.dram_active")
    busy = (sm >= th.sm_busy) & tensor.notna()
    fp_work = (fp >= th.pipe_active) & ~(fp64 > fp)
    inferred = fp.isna() & (dram < th.dram_busy) & ~(fp64 >= th.pipe_active)
    match = busy & (tensor < th.tensor_idle) & (fp_work | inferred)
    share = ga.share_of_busy(match, busy)
    fired = share.index[share >= th.min_busy_share]
    findings = []
    for gpu in fired:
        s = float(share[gpu])
        sel = match[gpu]
        sm_m, t_m = float(sm[gpu][sel].median()), float(tensor[gpu][sel].median())
        fp_m = float(fp[gpu][sel].median())
        evidence = [
            Evidence("gpu.tensor_active", gpu, s, th.min_busy_share, "ratio",
                     "share of busy time with the tensor cores idle"),
            Evidence("gpu.tensor_active", gpu, t_m, th.tensor_idle, "ratio",
                     "median tensor-pipe activity in those bins"),
            Evidence("gpu.sm_active" if f.has("gpu.sm_active") else "gpu.gr_engine_active",
                     gpu, sm_m, th.sm_busy, "ratio", "median SM activity in those bins"),
        ]
        notes: tuple[str, ...] = ()
        if np.isfinite(fp_m):
            name = "gpu.fp32_active" if f.has("gpu.fp32_active") else "gpu.fp16_active"
            evidence.append(Evidence(name, gpu, fp_m, th.pipe_active, "ratio",
                                     "median FP32/FP16 pipe activity in those bins"))
            pipes = f", FP pipe {ga.pct(fp_m)}"
        else:
            pipes = ", DRAM not saturated"
            notes = ("FP32/FP16 pipe activity not recorded: FP work inferred from busy SMs "
                     "with DRAM activity under dram_busy",)
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=None,
            severity=ga.severity(s, th.warning_share),
            evidence=tuple(evidence),
            summary=(f"{gpu} SMs busy with tensor cores idle {ga.pct(s)} of busy time "
                     f"(SM {ga.pct(sm_m)}, tensor {ga.pct(t_m)}{pipes}): "
                     "use bf16/fp16 autocast or TF32"),
            notes=notes,
        ))
    return findings
