"""data-starved-cpu: GPUs wait on input while host CPUs are saturated by preprocessing."""

from __future__ import annotations

from profiler.engine import Finding, NotChecked, Thresholds, rule
from profiler.features import Features
from rules._attribution import (
    ATTRIBUTION_THRESHOLDS,
    gpu_names,
    pct,
    weighted_mean,
    windowed_idle,
)
from rules._causes import CPU_THRESHOLDS, cpu_cause
from rules._host_blame import Blame, blame_hosts


@rule(
    id="data-starved-cpu",
    title="GPUs starved by host CPU",
    needs=("gpu.util|gpu.gr_engine_active",
           "host.cpu.user|host.cpu.system|host.cpu.core_busy_max|host.cpu.cores_saturated"
           "|host.psi.cpu_some"),
    thresholds={**ATTRIBUTION_THRESHOLDS, **CPU_THRESHOLDS},
    remediation="Move preprocessing off the critical path: more DataLoader workers (up to the "
                "cores you have), decode and augment on the GPU (DALI, torchvision v2 on "
                "CUDA), cache preprocessed samples, and keep other work off the training "
                "node's CPUs.",
    groups=("input", "host", "cpu"),
)
def data_starved_cpu(f: Features, th: Thresholds) -> list[Finding]:
    """GPUs sit idle waiting on input while the host CPUs are saturated.

    Fires when: a host's GPUs are idler while its CPUs are saturated than while they are not
    (lift >= `min_lift`, at least `min_z` standard errors), and that idle time is at least
    `min_gpu_time_lost` of the host's GPU-time. CPUs are saturated in a bin when all CPUs together
    are busy (host.cpu.user + system >= `cpu_busy`), the busiest core is pegged
    (host.cpu.core_busy_max >= `core_busy`, a single-threaded loader), or tasks queue for a
    CPU (host.psi.cpu_some >= `psi_cpu`). When the CPUs are saturated in nearly every bin
    (>= `always_share`), the timing cannot be compared: it then fires only if GPUs are idle
    >= `always_min_idle` and the saturation covers >= `always_share` of the idle time. CPUs
    busy >= `cpu_busy` on average and saturated in most bins count as saturated throughout
    (their troughs are too shallow to be slack) unless the GPUs idle more in the troughs.
    Does not fire when: the CPUs are pegged but the GPUs stay busy (the loader keeps up), the
    GPUs idle at other times than the CPUs peak, the GPUs are idle only during start-up or
    teardown, or the loss is below `min_gpu_time_lost`.
    Remedy: add DataLoader workers, move decoding and augmentation to the GPU, cache
    preprocessed samples, pin other processes away from the training job's cores.
    Sources: prometheus/node_exporter node-mixin (NodeCPUHighUsage 90 %, NodeSystemSaturation);
    Gregg, USE method Linux checklist (per-CPU utilization); samber/awesome-prometheus-alerts;
    TensorFlow profiler input-pipeline analysis (5 % / 20 % input-bound levels).
    """
    wait = windowed_idle(f, th)
    blames, checked = blame_hosts(f, th, wait, cpu_cause)
    if not checked:
        raise NotChecked("no host CPU series on a host with GPUs")
    return [_finding(b, th) for b in blames]


TEXT = {"host.cpu.user+system": "all CPUs {} busy",
        "host.cpu.core_busy_max": "busiest core {} busy",
        "host.cpu.cores_saturated": "{} cores saturated",
        "host.psi.cpu_some": "tasks waiting for a CPU {} of the time"}


def _finding(b: Blame, th: Thresholds) -> Finding:
    a = b.attribution
    gpus = a.named_gpus(th)
    hot_parts: list[str] = []
    context: list[str] = []
    for s in b.cause.triggers:
        value = weighted_mean(s.values, b.weight)
        if value != value:
            continue
        shown = f"{value:.0f}" if s.unit == "count" else pct(value)
        text = TEXT.get(s.metric, s.metric + " {}").format(shown)
        (hot_parts if b.coverage(s) >= 0.5 else context).append(text)
    detail = ", ".join(hot_parts or context)
    if hot_parts and context:
        detail += f" ({', '.join(context)})"
    summary = (f"{gpu_names(gpus)} idle {pct(a.idle_share(gpus))} of the time while the host "
               f"CPUs are saturated: {detail}")
    if a.always:
        summary += "; the CPUs are saturated throughout, so this rests on idle share, not timing"
    return Finding(entities=tuple(gpus), gpu_time_lost=a.co.lost, evidence=tuple(b.evidence()),
                   summary=summary)
