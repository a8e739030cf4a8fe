"""host-swap-storm: the host swaps while its GPUs wait."""

from __future__ import annotations

from profiler.engine import Finding, NotChecked, Thresholds, rule
from profiler.features import Features
from rules._attribution import ATTRIBUTION_THRESHOLDS, gpu_names, pct, windowed_idle
from rules._causes import SWAP_THRESHOLDS, swap_cause
from rules._host_blame import Blame, blame_hosts


@rule(
    id="host-swap-storm",
    title="Host swapping stalls the GPUs",
    needs=("gpu.util|gpu.gr_engine_active",
           "host.swap_in|host.swap_out|host.psi.memory_some|host.psi.memory_full"),
    thresholds={**ATTRIBUTION_THRESHOLDS, **SWAP_THRESHOLDS},
    remediation="Cut host memory use (fewer or lighter DataLoader workers, shared-memory "
                "datasets instead of per-worker copies, smaller prefetch queues) or add RAM; "
                "on a dedicated training node disable swap or lower vm.swappiness.",
    groups=("host", "memory"),
)
def host_swap_storm(f: Features, th: Thresholds) -> list[Finding]:
    """The host is swapping, and its GPUs wait while it does.

    Fires when: a host's GPUs are idler while it swaps than while it does not (lift >=
    `min_lift`, at least `min_z` standard errors), and that idle time is at least
    `min_gpu_time_lost` of the host's GPU-time. The host swaps in a bin when host.swap_in +
    host.swap_out >= `swap_rate`; a trace without swap counters uses PSI memory stalls
    (host.psi.memory_some >= `psi_memory`). Major faults and available memory are shown as
    evidence. When swapping goes on in nearly every bin (>= `always_share`), the timing cannot
    be compared: it then fires only if GPUs are idle >= `always_min_idle` and swapping covers
    >= `always_share` of the idle time.
    Does not fire when: swap is in use but pages are not moving, swapping happens while the
    GPUs are busy, the GPUs are idle only during start-up or teardown, or the loss is below
    `min_gpu_time_lost`.
    Remedy: reduce host memory use (loader workers, per-worker dataset copies, pinned-memory
    pools) or add RAM; disable swap or lower vm.swappiness on training nodes.
    Sources: Gregg, USE method Linux checklist (vmstat si/so = memory saturation);
    prometheus/node_exporter node-mixin (NodeMemoryMajorPagesFaults);
    samber/awesome-prometheus-alerts (HostOutOfMemory); Linux PSI documentation.
    """
    wait = windowed_idle(f, th)
    blames, checked = blame_hosts(f, th, wait, swap_cause)
    if not checked:
        raise NotChecked("no swap or memory-pressure series on a host with GPUs")
    return [_finding(b, th) for b in blames]


def _finding(b: Blame, th: Thresholds) -> Finding:
    a = b.attribution
    gpus = a.named_gpus(th)
    parts = []
    swap = b.top("host.swap_in+swap_out")
    if swap == swap:
        parts.append(f"{swap / 1048576:.1f} MiB/s swapped")
    psi = b.top("host.psi.memory_some")
    if psi == psi:
        parts.append(f"tasks stalled on memory {pct(psi)} of the time")
    avail = b.top("host.mem_available")
    if avail == avail:
        parts.append(f"{pct(avail)} of memory available")
    summary = (f"{gpu_names(gpus)} idle {pct(a.idle_share(gpus))} of the time while "
               f"{b.cause.host} swaps ({', '.join(parts)})")
    if a.always:
        summary += "; swapping goes on throughout, so this rests on idle share, not timing"
    return Finding(entities=tuple(gpus), gpu_time_lost=a.co.lost, evidence=tuple(b.evidence()),
                   summary=summary)
