"""numa-misaligned: processes using a GPU run on the CPUs or memory of another NUMA node."""

from __future__ import annotations

from collections.abc import Iterable

from profiler.engine import Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features, entity_label
from profiler.trace import GpuInfo, ProcessInfo

MIN_LOCAL_CPU_SHARE = Threshold(
    0.5, unit="ratio", bounds=(0.0, 1.0),
    source="geometry: an unpinned process on a two-socket node may run on every CPU and has "
           "exactly half of them local; below half, most CPUs it may run on are across the "
           "socket interconnect (SYS in nvidia-smi topo -m), which the NCCL and NVIDIA tuning "
           "guides ask to avoid by binding to the GPU's CPU affinity",
    help="share of a process's allowed CPUs that must be local to its GPU")


def cpu_list(cpus: Iterable[int]) -> str:
    """(0, 1, 2, 3, 8) -> "0-3,8"."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = prev = None
    for c in [*ordered, None]:
        if c is not None and prev is not None and c == prev + 1:
            prev = c
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = c
    return ",".join(parts)


def _check(p: ProcessInfo, gpu: GpuInfo, th: Thresholds) -> list[Evidence] | None:
    """Evidence of misplacement for one process, [] when aligned, None when not checkable."""
    label = entity_label(gpu.host, gpu.entity)
    who = f"pid {p.pid}" + (f" ({p.name})" if p.name else "")
    out: list[Evidence] = []
    checked = False
    local = set(gpu.cpu_affinity)
    if p.cpus_allowed and local:
        checked = True
        share = len(set(p.cpus_allowed) & local) / len(set(p.cpus_allowed))
        if share < th.min_local_cpu_share:
            out.append(Evidence(
                "process.cpus_allowed", label, share, th.min_local_cpu_share, "ratio",
                note=f"{who} may run on CPUs {cpu_list(p.cpus_allowed)}; {gpu.entity}'s local "
                     f"CPUs are {cpu_list(local)}"))
    if p.mems_allowed and gpu.numa_node is not None and gpu.numa_node >= 0:
        checked = True
        if gpu.numa_node not in p.mems_allowed:
            out.append(Evidence(
                "process.mems_allowed", label, 0.0, 1.0, "count",
                note=f"{who} allocates on NUMA node(s) {cpu_list(p.mems_allowed)}; "
                     f"{gpu.entity} hangs off node {gpu.numa_node}"))
    return out if checked else None


@rule(
    id="numa-misaligned",
    title="GPU process on the wrong NUMA node",
    needs=(),
    live_only=True,
    thresholds={"min_local_cpu_share": MIN_LOCAL_CPU_SHARE},
    remediation="Bind each rank to its GPU's NUMA node: numactl --cpunodebind=N --membind=N, "
                "torchrun/Slurm CPU binding (--cpu-bind), or the CPU affinity that nvidia-smi "
                "topo -m prints for the GPU.",
    groups=("host", "numa"),
)
def numa_misaligned(f: Features, th: Thresholds) -> list[Finding]:
    """A process using a GPU is bound to CPUs or memory of a NUMA node that is not the GPU's.

    Fires when: on a live recording, a compute process on a GPU may run on CPUs of which less
    than `min_local_cpu_share` are local to the GPU (its CPU affinity from NVML), or may
    allocate memory only on NUMA nodes other than the GPU's. Every host-device copy and
    kernel launch of that process then crosses the socket interconnect. Severity: warning;
    the GPU time it costs is not estimable from these samples.
    Does not fire when: the process is unpinned on a two-socket node (half its CPUs are
    local), is bound to the GPU's node, or the trace lacks processes' CPU and memory masks or
    the GPUs' affinity (then: not checked); replayed files are not checked (no processes).
    Remedy: bind each rank to its GPU's NUMA node (numactl, torchrun or Slurm CPU binding).
    Sources: NVML nvmlDeviceGetCpuAffinity / nvmlDeviceGetMemoryAffinity (nvml.md 2);
    Linux /proc/PID/status Cpus_allowed_list and Mems_allowed_list.
    """
    meta = f.trace.meta
    if not meta.processes:
        raise NotChecked("no GPU processes recorded (needs process CPU and memory masks)")
    findings = []
    checked = 0
    by_gpu: dict[tuple[str, str], list[Evidence]] = {}
    for p in meta.processes:
        gpu = meta.gpu(p.host, p.gpu)
        result = _check(p, gpu, th) if gpu is not None else None
        if result is None:
            continue
        checked += 1
        if result:
            by_gpu.setdefault((p.host, p.gpu), []).extend(result)
    if not checked:
        raise NotChecked("no process could be checked: GPU CPU affinity / NUMA node or the "
                         "processes' allowed CPUs and memory nodes are unknown")
    for (host, gpu_name), evidence in sorted(by_gpu.items()):
        label = entity_label(host, gpu_name)
        what = " and ".join(sorted({"CPUs" if e.metric.endswith("cpus_allowed") else "memory"
                                    for e in evidence}))
        findings.append(Finding(
            entities=(label,), gpu_time_lost=None, evidence=tuple(evidence), severity="warning",
            summary=f"{label}: its process runs with {what} of another NUMA node: "
                    + "; ".join(e.note for e in evidence)))
    return findings
