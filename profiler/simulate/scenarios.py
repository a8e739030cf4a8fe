"""Scenarios of the job and its host: input pipeline, communication, memory, look-alikes.

Each function changes the healthy Setup, scaled by intensity (see registry.py); its docstring
is the scenario's documentation. GPU-level faults are in scenarios_gpu.py.
"""

from __future__ import annotations

import math

from profiler.simulate.hardware import CPU_COUNT, DISK_READ_BPS
from profiler.simulate.params import Setup, lerp
from profiler.simulate.registry import scenario


def smaller_batches(setup: Setup, compute_s: float) -> Setup:
    """The same model with a smaller per-GPU batch: less compute and less input per step."""
    scale = compute_s / setup.workload.compute_s
    ld, w = setup.loader, setup.workload
    return (setup.with_workload(compute_s=compute_s, h2d_bytes=w.h2d_bytes * scale)
            .with_loader(read_bytes=ld.read_bytes * scale, cpu_s=ld.cpu_s * scale))


@scenario("healthy")
def healthy(s: Setup, i: float) -> Setup:
    """A well-fed bf16 data-parallel training job; nothing is wrong.

    About 2.3 steps per second; compute is ~93 % of every step, gradients are all-reduced while
    the backward pass runs, the input pipeline keeps its prefetch buffer full from a mostly
    page-cached dataset, and every GPU runs at full clocks around 600 W and 60-67 C.

    Diagnosis: no bottleneck; any finding is a false positive.
    """
    return s


def _per_gpu_share(s: Setup) -> float:
    """How many times an 8-GPU node's share of the host each GPU of this node has.

    The input scenarios are sized for 8 GPUs per node; with fewer, each rank's batch reads and
    costs proportionally more (larger samples), so the host resource is short by the same
    factor whatever the GPU count.
    """
    return 8.0 / s.gpus


@scenario("data-starved-storage")
def data_starved_storage(s: Setup, i: float) -> Setup:
    """The input pipeline waits on a saturated local NVMe drive.

    The dataset (750 MB of samples per batch on an 8-GPU node, more per rank on smaller nodes: see
    _per_gpu_share) no longer fits the page cache: the cache hit ratio falls from 98.8 % to 0, so
    all ranks' loaders read from nvme0n1 at once. When the drive is saturated (busy ~1, deep queue),
    the loader workers sit in uninterruptible I/O (iowait, procs_blocked, PSI io) and every GPU
    idles in data wait at the start of each step. Starvation sets in past intensity ~0.5.

    Diagnosis: data-starved GPUs, storage I/O bound on node1 (nvme0n1 saturated).
    """
    return s.with_loader(read_bytes=750e6 * _per_gpu_share(s), cache_hit=lerp(0.988, 0.0, i))


@scenario("data-starved-nfs")
def data_starved_nfs(s: Setup, i: float) -> Setup:
    """The input pipeline waits on a network filesystem.

    The dataset lives on NFS over eth0 and stops fitting the page cache; the NFS server gives
    this client about 2 GB/s (300 MB per batch on an 8-GPU node). Reads show as nic.rx (well
    under line rate), loader workers wait in iowait and PSI io, the local disks stay quiet, and
    the GPUs idle in data wait.

    Diagnosis: data-starved GPUs, storage I/O bound (network filesystem reads on eth0).
    """
    return s.with_loader(source="nfs", read_bytes=300e6 * _per_gpu_share(s),
                         cache_hit=lerp(0.97, 0.0, i))


@scenario("data-starved-cpu")
def data_starved_cpu(s: Setup, i: float) -> Setup:
    """Preprocessing saturates the host CPUs.

    Heavy decode and augmentation (24 core-seconds per batch instead of 1 on an 8-GPU node) with
    as many loader workers per rank as the host has cores per GPU (28 of 224 with 8 GPUs): the
    workers fill every core (user share ~0.9, most cores saturated, PSI cpu and load above the
    core count) and still cannot keep up, so the GPUs idle in data wait. The disk is not busy.
    With fewer GPUs per node each batch costs proportionally more, so that the host is short of
    CPU by the same factor whatever the GPU count.

    Diagnosis: data-starved GPUs, CPU bound input pipeline (preprocessing) on node1.
    """
    share = _per_gpu_share(s)
    return s.with_loader(cpu_s=lerp(1.0, 24.0 * share, i),
                         workers=max(1, round(lerp(8, CPU_COUNT / s.gpus, i))))


@scenario("data-starved")
def data_starved(s: Setup, i: float) -> Setup:
    """GPUs starve for data with no cause visible on the host.

    Batches come from a remote data service whose per-batch latency (up to 0.95 s) exceeds the
    GPU step. The loader threads sleep on the network: no CPU saturation, no iowait, no disk
    load, modest NIC traffic. The GPUs idle in a step pattern.

    Diagnosis: data-starved GPUs, cause not visible in host metrics (look at the data source).
    """
    return s.with_loader(source="remote", remote_s=lerp(0.05, 0.95, i))


@scenario("pcie-bound")
def pcie_bound(s: Setup, i: float) -> Setup:
    """Huge host-GPU copies every step saturate PCIe while the SMs wait.

    An offloading setup (parameters and optimizer state kept in host memory) copies 40 GB
    host-to-GPU and 4 GB back per rank per step. The copies run at the link's ~53 GB/s, not
    overlapped with compute, and take most of each step: PCIe rx near its Gen5 x16 capacity
    during copies, SMs idle meanwhile (copies are not kernels: utilization falls too).

    Diagnosis: PCIe bound (host-device transfers), every GPU.
    """
    return s.with_workload(h2d_bytes=lerp(80e6, 40e9, i), d2h_bytes=lerp(2e6, 4e9, i))


@scenario("allreduce-bound")
def allreduce_bound(s: Setup, i: float) -> Setup:
    """Gradient all-reduce dominates the step.

    With several hosts: large gradients (14 GB per step, a 7B model with a small per-GPU batch)
    over a slow inter-node link (one 400 Gb NDR port per node instead of eight), so IB runs near
    line rate with transmit waits. With one host: 40 GB of gradients per step (a ~20B model,
    ZeRO-style) over NVLink near its practical limit. Either way the GPUs sit in NCCL kernels:
    utilization stays high while SM activity is low for most of the step.

    Diagnosis: all-reduce bound (inter-node network with hosts > 1, NVLink on one host).
    """
    if s.hosts > 1:
        s = smaller_batches(s, lerp(0.40, 0.20, i)).with_workload(grad_bytes=lerp(2.6e9, 14e9, i))
        for h in range(s.hosts):
            s = s.with_host(h, ib_ports=1)
        return s
    return smaller_batches(s, lerp(0.40, 0.10, i)).with_workload(grad_bytes=lerp(2.6e9, 40e9, i))


@scenario("tensor-cores-unused")
def tensor_cores_unused(s: Setup, i: float) -> Setup:
    """The model trains in FP32 without TF32, so tensor cores sit idle.

    SMs are busy but the work runs on the FP32 pipes: tensor activity ~0, FP32 activity ~0.7,
    and each step takes several times longer than it would in bf16.

    Diagnosis: tensor cores unused (mixed precision or TF32 would speed it up), every GPU.
    """
    s = s.with_workload(compute_s=lerp(0.40, 2.4, i))
    return s.with_mix(tensor=lerp(0.55, 0.0, i), fp32=lerp(0.05, 0.70, i),
                      fp16=lerp(0.07, 0.01, i), sm=lerp(0.93, 0.95, i),
                      occupancy=lerp(0.45, 0.60, i), dram=lerp(0.42, 0.30, i))


@scenario("memory-bandwidth-bound")
def memory_bandwidth_bound(s: Setup, i: float) -> Setup:
    """Kernels are limited by HBM bandwidth, not arithmetic.

    An embedding- and elementwise-heavy model: DRAM active ~0.9 while the tensor and FP pipes
    are mostly idle; compute time barely improves with SM clock, and power stays well under
    the limit.

    Diagnosis: memory-bandwidth bound kernels, every GPU.
    """
    s = s.with_workload(memory_bound=lerp(0.25, 0.9, i))
    return s.with_mix(dram=lerp(0.42, 0.92, i), tensor=lerp(0.55, 0.06, i),
                      fp16=lerp(0.07, 0.12, i), fp32=lerp(0.05, 0.08, i),
                      sm=lerp(0.93, 0.85, i), occupancy=lerp(0.45, 0.70, i))


@scenario("gpu-memory-pressure")
def gpu_memory_pressure(s: Setup, i: float) -> Setup:
    """GPU memory is almost full and the allocator keeps retrying.

    The caching allocator holds ~98 % of the framebuffer; allocations fail, cached blocks are
    freed and retried (each a device synchronization), leaving idle gaps worth up to 15 % of
    compute every step.

    Diagnosis: GPU memory pressure (fb_used >= ~97 % of total), every GPU.
    """
    share = lerp(0.78, 0.985, i)
    return s.with_workload(fb_used_share=share,
                           alloc_stall_share=0.15 * min(1.0, max(0.0, (share - 0.95) / 0.035)))


@scenario("host-swap-storm")
def host_swap_storm(s: Setup, i: float) -> Setup:
    """Host memory runs out and the host swaps.

    Loader workers' copy-on-write growth eats the host's memory during the first fifth of the
    window; then MemAvailable sits near 1 %, swap fills, pages move in and out at hundreds of
    MB/s, major faults and memory PSI climb, and both the loaders and the rank processes stall on
    page faults, so the GPUs wait.

    Diagnosis: host memory exhausted, swapping (node1); GPUs idle waiting for the host.
    """
    return s.with_host(0, swap_storm=i)


@scenario("gpu-idle")
def gpu_idle(s: Setup, i: float) -> Setup:
    """The job is stuck (or forgotten) and its GPUs sit idle holding memory.

    The job stops issuing work 5 % into the window but its processes stay alive: memory stays
    allocated, the process count stays 1, utilization and SM activity drop to ~0 and the GPUs
    fall to idle clocks and power.

    Diagnosis: GPUs idle (allocated but unused) for most of the window, every GPU.
    """
    return s.with_workload(stop_share=lerp(1.0, 0.05, i), stop_holds_memory=True)


@scenario("numa-misaligned")
def numa_misaligned(s: Setup, i: float) -> Setup:
    """Rank processes are pinned to the wrong socket.

    Each affected rank's CPUs and memory (ProcessInfo cpus_allowed / mems_allowed) are on the
    other NUMA node than its GPU: host-to-GPU copies cross the socket link (~60 % of local
    bandwidth) and loader workers pay ~15 % more CPU per batch. The cost is small for this job;
    the evidence is in the metadata and in slower copies. Intensity sets the share of ranks.

    Diagnosis: NUMA misalignment of the affected ranks (node1).
    """
    count = min(s.gpus, math.ceil(i * s.gpus - 1e-9)) if i > 0 else 0
    for g in range(count):
        s = s.with_gpu(g, numa_misaligned=True)
    return s


@scenario("lookalike-busy-disk")
def lookalike_busy_disk(s: Setup, i: float) -> Setup:
    """Another process saturates the data disk while the job is fed from page cache.

    A backup streams nvme0n1 at nearly its full read bandwidth (busy ~1, deep queue, some
    iowait and PSI io), but the training dataset is entirely page-cached, so the loaders need no
    disk and the GPUs stay busy.

    Diagnosis: no bottleneck for the job (a busy disk that does not starve the GPUs).
    """
    return (s.with_loader(cache_hit=1.0)
            .with_host(0, other_disk_read_bps=lerp(0.0, 0.97 * DISK_READ_BPS, i)))


@scenario("lookalike-cpu-saturated")
def lookalike_cpu_saturated(s: Setup, i: float) -> Setup:
    """Another tenant pegs the host CPUs while the job stays fed.

    A parallel build runs 300 busy threads: CPU user ~0.95, load and PSI cpu high. The job's
    loaders need only ~16 cores and still get enough of their fair share, and its main threads
    keep the GPUs busy.

    Diagnosis: no bottleneck for the job (CPU saturation that does not starve the GPUs).
    """
    return s.with_host(0, other_threads=lerp(0.0, 300.0, i))


@scenario("lookalike-checkpoint")
def lookalike_checkpoint(s: Setup, i: float) -> Setup:
    """Periodic checkpoints cost about 2 % of GPU time.

    Every 4 minutes each rank copies its 2.3 GB shard to host memory and the host writes 18 GB to
    nvme0n1 (~5 s, disk busy ~1, writeback iowait) while the GPUs idle. Expected and cheap.

    Diagnosis: no bottleneck (periodic checkpointing, ~2 % of GPU time).
    """
    return s.with_workload(checkpoint_every_s=240.0 / max(i, 240.0 / 1800.0))
