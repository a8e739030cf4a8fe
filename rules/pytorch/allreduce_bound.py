"""allreduce-bound (timeline): communication kernels run with no computation to hide them."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import (
    HTA,
    NEEDS,
    PRIORITY,
    TB_PLUGIN,
    VARIANT,
    analysis,
    ms,
    pct,
    share,
)

MIN_EXPOSED = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"the PyTorch TensorBoard plugin reports 'high time cost on communication' above "
           f"10 % of step time ({TB_PLUGIN}, communication_ratio > 0.1)",
    help="communication kernel time not overlapped by computation, as a share of GPU time")


@rule(
    id="allreduce-bound",
    title="Collective communication dominates",
    needs=NEEDS,
    thresholds={"min_exposed": MIN_EXPOSED},
    remediation="Hide communication under compute (DDP bucket_cap_mb, FSDP prefetching, "
                "overlapped optimizer), send less (gradient accumulation, bf16 or compressed "
                "gradients, larger batch per step), or check the interconnect.",
    groups=("gpu", "interconnect", "distributed"),
    variant=VARIANT,
    priority=PRIORITY,
)
def allreduce_bound(f: Features, th: Thresholds) -> list[Finding]:
    """Collective kernels run exposed: the GPU communicates with nothing computing beside it.

    Fires when: on a rank, communication kernels (names `nccl...Kernel`, HTA's rule) that do
    not overlap any computation kernel take at least `min_exposed` of all GPU time. That
    exposed time is the loss; HTA's comm/comp overlap (share of communication hidden) is in
    the evidence.
    Does not fire when: communication is hidden under compute, is short, or the trace has no
    NCCL kernels (single GPU, or custom all-reduce kernels HTA counts as compute).
    Remedy: overlap communication with compute, communicate less often or less data.
    Sources: HTA comm/comp overlap and kernel breakdown; PyTorch TensorBoard plugin
    (communication > 10 % of step time).
    """
    a = analysis(f)
    findings = []
    for info in a.ranks:
        e = a.exposure.loc[info.rank]
        lost = share(float(e["comm_exposed_ns"]), a)
        if lost < th.min_exposed:
            continue
        overlap = float(a.overlap.get(info.rank, float("nan")))
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=lost,
            evidence=(Evidence("timeline.comm_exposed", info.entity, lost, th.min_exposed,
                               "ratio", note=f"{ms(float(e['comm_exposed_ns']))} of "
                                             f"{ms(float(e['comm_ns']))} communication"),
                      Evidence("timeline.comm_overlap", info.entity, overlap / 100.0, None,
                               "ratio", note=f"HTA comm/comp overlap ({HTA})")),
            summary=(f"rank {info.rank}: {pct(lost)} of GPU time in communication kernels "
                     f"with no computation beside them ({pct(overlap / 100.0)} of its "
                     "communication is hidden)")))
    return findings
