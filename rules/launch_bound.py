"""launch-bound: the GPU idles waiting for the host to launch its next kernel."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import HTA, MIN_GPU_TIME_LOST, NEEDS, analysis, ms, pct, share

MIN_HOST_WAIT = Threshold(
    0.5, unit="ratio", bounds=(0.0, 1.0),
    source=f"definition: the host is the bottleneck when most (over half) of the GPU streams' "
           f"idle gaps end with a launch issued after the stream went idle (HTA's host_wait "
           f"category, {HTA}, get_idle_time_breakdown)",
    help="share of the per-stream idle time that is host wait")


@rule(
    id="launch-bound",
    title="GPU waits on the host to launch work",
    needs=NEEDS,
    thresholds={"min_gpu_time_lost": MIN_GPU_TIME_LOST, "min_host_wait": MIN_HOST_WAIT},
    remediation="Give the GPU bigger and fewer launches: CUDA graphs (torch.compile "
                "mode='reduce-overhead'), fused kernels (torch.compile), a larger batch; "
                "remove host syncs (.item(), .cpu(), print of tensors) and Python overhead "
                "from the step.",
    groups=("gpu", "cpu"),
)
def launch_bound(f: Features, th: Thresholds) -> list[Finding]:
    """The GPU runs out of work and waits for the CPU to launch the next kernel.

    Fires when: on a rank of a profiler timeline, the GPU's idle time outside DataLoader
    waits (HTA temporal breakdown) is at least `min_gpu_time_lost` of all GPU time, and at
    least `min_host_wait` of the streams' idle gaps are host wait: the kernel after the gap
    was launched only after the stream had gone idle, so the CPU, not the GPU, set the pace
    (kernels too small or too many for the launch rate, Python overhead, host syncs). The
    loss is that idle time times the host-wait share.
    Does not fire when: the idle time is in the DataLoader (data-starved), the gaps are
    short launch latencies between queued kernels (kernel wait) or other waits
    (synchronisation, communication), or there is no timeline (hardware samples cannot see
    launches).
    Remedy: CUDA graphs, fusion, larger batches, no host syncs in the step.
    Sources: HTA idle time breakdown (host_wait / kernel_wait / other) and temporal
    breakdown.
    """
    a = analysis(f)
    idle = a.idle_by_category()
    findings = []
    for info in a.ranks:
        if info.rank not in idle.index:
            continue
        parts = idle.loc[info.rank]
        total_idle = float(parts.sum())
        host_share = float(parts["host_wait"]) / total_idle if total_idle > 0 else 0.0
        e = a.exposure.loc[info.rank]
        waiting_ns = max(float(e["idle_ns"]) - float(e["dataloader_idle_ns"]), 0.0)
        lost = share(waiting_ns * host_share, a)
        if host_share < th.min_host_wait or lost < th.min_gpu_time_lost:
            continue
        kernels = int(e["kernels"])
        median_us = float(e["kernel_median_ns"]) / 1e3
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=lost,
            evidence=(Evidence("timeline.host_wait_share", info.entity, host_share,
                               th.min_host_wait, "ratio",
                               note="share of the streams' idle gaps that are host wait (HTA)"),
                      Evidence("timeline.idle_outside_dataloader", info.entity,
                               share(waiting_ns, a), None, "ratio",
                               note=f"{ms(waiting_ns)} GPU idle outside DataLoader waits"),
                      Evidence("timeline.kernel_median_us", info.entity, median_us, None, "us",
                               note=f"{kernels} kernels in the analysed span")),
            summary=(f"rank {info.rank}'s GPU idles {pct(lost)} of GPU time waiting for the "
                     f"host to launch work ({pct(host_share)} of its idle gaps are host wait; "
                     f"{kernels} kernels, median {median_us:.0f} µs)")))
    return findings
