"""pcie-bound (timeline): host-device copies run with no computation to hide them."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import (
    MIN_GPU_TIME_LOST,
    NEEDS,
    PRIORITY,
    VARIANT,
    analysis,
    ms,
    pct,
    share,
)


@rule(
    id="pcie-bound",
    title="Host-device copies exposed",
    needs=NEEDS,
    thresholds={"min_gpu_time_lost": MIN_GPU_TIME_LOST},
    remediation="Copy less and overlap the rest: pin host memory (pin_memory=True) and copy "
                "with non_blocking=True on a side stream, keep tensors on the GPU between "
                "steps, avoid .item()/.cpu() in the loop.",
    groups=("gpu", "interconnect"),
    variant=VARIANT,
    priority=PRIORITY,
)
def pcie_bound(f: Features, th: Thresholds) -> list[Finding]:
    """Host-to-device and device-to-host copies run while no kernel computes.

    Fires when: on a rank, `Memcpy HtoD` / `Memcpy DtoH` time not overlapped by any
    computation kernel is at least `min_gpu_time_lost` of all GPU time; that exposed copy
    time is the loss.
    Does not fire when: copies are short or overlap compute; device-to-device and
    peer-to-peer copies do not cross the host link and are not counted.
    Remedy: pinned memory, asynchronous copies on a side stream, fewer host round trips.
    Sources: HTA kernel breakdown (MEMORY kernels by name); CUDA C++ Best Practices Guide,
    "Asynchronous and Overlapping Transfers with Computation".
    """
    a = analysis(f)
    findings = []
    for info in a.ranks:
        e = a.exposure.loc[info.rank]
        lost = share(float(e["copy_exposed_ns"]), a)
        if lost < th.min_gpu_time_lost:
            continue
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=lost,
            evidence=(Evidence("timeline.copy_exposed", info.entity, lost,
                               th.min_gpu_time_lost, "ratio",
                               note=f"{ms(float(e['copy_exposed_ns']))} of "
                                    f"{ms(float(e['copy_ns']))} host-device copies"),),
            summary=(f"rank {info.rank}: {pct(lost)} of GPU time in host-device copies with "
                     "no computation beside them")))
    return findings
