"""data-starved-storage: GPUs wait on input while storage is saturated."""

from __future__ import annotations

from profiler.engine import Finding, NotChecked, Thresholds, rule
from profiler.features import Features
from rules._attribution import ATTRIBUTION_THRESHOLDS, gpu_names, pct, weighted_mean, windowed_idle
from rules._causes import STORAGE_THRESHOLDS, Signal, storage_cause
from rules._host_blame import Blame, blame_hosts


@rule(
    id="data-starved-storage",
    title="GPUs starved by storage",
    needs=("gpu.util|gpu.gr_engine_active", "disk.busy|host.psi.io_some|host.cpu.iowait"),
    thresholds={**ATTRIBUTION_THRESHOLDS, **STORAGE_THRESHOLDS},
    remediation="Stage the dataset on local NVMe or in page cache, read it with more loader "
                "workers and larger sequential reads (prefetch, WebDataset/TFRecord shards), "
                "and check the filesystem's own limits before buying GPUs.",
    groups=("input", "host", "storage"),
)
def data_starved_storage(f: Features, th: Thresholds) -> list[Finding]:
    """GPUs sit idle waiting on input while the storage that feeds them is saturated.

    Fires when: a host's GPUs are idler while storage is saturated than while it is not (lift
    >= `min_lift`, at least `min_z` standard errors), and that idle time is at least
    `min_gpu_time_lost` of the host's GPU-time. Storage is saturated in a bin when a local disk
    is busy (disk.busy >= `disk_busy`) while reading more than it writes, or when tasks stall on
    I/O (host.psi.io_some >= `psi_io` or host.cpu.iowait >= `iowait`), which also covers
    network filesystems; a NIC receiving at >= `nic_busy` of its speed during those stalls is
    named as the network filesystem's link. When storage is saturated in nearly every bin
    (>= `always_share`), the timing cannot be compared: it then fires only if GPUs are idle
    >= `always_min_idle` and the saturation covers >= `always_share` of the idle time.
    Does not fire when: storage is busy but the GPUs are busy too, the disk is busy writing
    (checkpoints, logs: I/O stalls while a local disk is saturated writing are not counted
    either; data-starved reports such gaps), the host swaps at least `swap_rate` (disk load
    and I/O stalls then are the swap device's: host-swap-storm), the GPUs are idle only during
    start-up or teardown, or brief bursts (a periodic checkpoint) cost less than
    `min_gpu_time_lost`.
    Remedy: stage data on local NVMe or in page cache, add loader workers and prefetch, read
    in large sequential shards; for a network filesystem, check its throughput and the NIC.
    Sources: iostat(1) %util semantics; samber/awesome-prometheus-alerts (HostCpuHighIowait,
    HostNetworkInterfaceSaturated); TensorFlow profiler input-pipeline analysis (5 % / 20 %
    input-bound levels); Linux PSI documentation.
    """
    wait = windowed_idle(f, th)
    blames, checked = blame_hosts(f, th, wait, storage_cause)
    if not checked:
        raise NotChecked("no disk, I/O-pressure or iowait series on a host with GPUs")
    return [_finding(b, th) for b in blames]


def _finding(b: Blame, th: Thresholds) -> Finding:
    a = b.attribution
    devices = b.devices()
    gpus = a.named_gpus(th)
    if devices:
        where = ", ".join(f"{d.entity} ({_describe(d, b)})" for d in devices)
    else:
        stall = b.top("host.psi.io_some")
        stall = stall if stall == stall else b.top("host.cpu.iowait")
        where = (f"I/O stalls ({pct(stall)} of the time) with no local disk saturated: "
                 "a network filesystem or a device without metrics")
    summary = (f"{gpu_names(gpus)} idle {pct(a.idle_share(gpus))} of the time waiting on "
               f"storage: {where}")
    if a.always:
        summary += "; storage is saturated throughout, so this rests on idle share, not timing"
    return Finding(entities=(*gpus, *(d.entity for d in devices)), gpu_time_lost=a.co.lost,
                   evidence=tuple(b.evidence()), summary=summary)


def _describe(signal: Signal, b: Blame) -> str:
    value = weighted_mean(signal.values, b.weight)
    if signal.metric == "nic.rx":
        return f"receiving at {pct(value)} of link speed"
    return f"{pct(value)} busy"
