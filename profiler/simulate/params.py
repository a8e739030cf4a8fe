"""The parameters of a simulated run: the training job, its input pipeline, and each GPU and host.

Defaults describe a healthy job (a ~1.3B-parameter bf16 model trained data-parallel on H100s);
a scenario changes a few fields, scaled by its intensity, and everything else follows from the
step model. Units: seconds, bytes, watts, celsius; shares are 0..1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from profiler.simulate.hardware import DISK_READ_BPS, DISK_WRITE_BPS, POWER_LIMIT_W, KernelMix

DataSource = Literal["local", "nfs", "remote"]
# Forward/backward of a bf16 transformer: tensor-core GEMMs plus elementwise and attention kernels.
BF16_TRAINING = KernelMix(kernel=True, sm=0.93, occupancy=0.45, tensor=0.55, fp16=0.07, fp32=0.05,
                          dram=0.42)


@dataclass(frozen=True, slots=True)
class Workload:
    """One rank's training step at full clock (the same on every rank)."""

    compute_s: float = 0.40  # forward + backward
    backward_share: float = 0.66  # gradient buckets can leave during this last share of compute
    memory_bound: float = 0.25  # share of compute time that does not speed up with SM clock
    optimizer_s: float = 0.015
    grad_bytes: float = 2.6e9  # bf16 gradients all-reduced per step
    h2d_bytes: float = 80e6  # input batch copied host -> GPU per step
    d2h_bytes: float = 2e6  # losses, metrics (or offloaded gradients) GPU -> host per step
    mix: KernelMix = BF16_TRAINING
    fb_used_share: float = 0.78  # framebuffer the caching allocator holds
    alloc_stall_share: float = 0.0  # idle time per unit of compute lost to allocator retries
    launch_cpu_need: float = 0.45  # core share the main thread needs to keep the GPU fed
    jitter: float = 0.02  # lognormal sigma of compute time per step
    checkpoint_every_s: float = 1800.0
    checkpoint_bytes: float = 2.3e9  # sharded model + optimizer state written per rank
    stop_share: float = 1.0  # the job stops issuing work after this share of the window
    stop_holds_memory: bool = True  # a stopped job keeps its process and memory


@dataclass(frozen=True, slots=True)
class Loader:
    """The input pipeline of one rank: what a batch costs to read and preprocess."""

    read_bytes: float = 30e6  # dataset bytes per batch
    cache_hit: float = 0.7  # share of them served from the page cache
    cpu_s: float = 1.0  # core-seconds of decode/augment per batch
    workers: int = 8  # DataLoader worker processes
    source: DataSource = "local"  # local NVMe, an NFS mount over eth0, or a remote service
    remote_s: float = 0.0  # latency-bound fetch time per batch from a remote data service
    jitter: float = 0.12  # lognormal sigma of the time to produce one batch
    prefetch: int = 2  # batches buffered per worker


@dataclass(frozen=True, slots=True)
class GpuSetup:
    """One GPU, its cooling, link and the rank process that drives it."""

    cooling: float = 1.0  # thermal resistance relative to a well-cooled slot
    inlet_delta_c: float = 0.0  # extra inlet air temperature (recirculation, blocked airflow)
    power_limit_w: float = POWER_LIMIT_W
    pcie_gen: int = 5  # trained link while busy
    pcie_width: int = 16
    pinned_contention: float = 0.0  # other busy threads pinned to the rank's core
    brake_duty: float = 0.0  # share of time the external power brake is asserted
    numa_misaligned: bool = False  # rank pinned to the other socket's CPUs and memory
    hw_errors: float = 0.0  # 0..1: how far the memory fault on this GPU has progressed
    leakage_w: float = 0.0  # this chip's static power above the typical part (seeded spread)
    position_c: float = 0.0  # this slot's inlet offset: GPUs further back breathe warmer air


@dataclass(frozen=True, slots=True)
class HostSetup:
    """One host's storage, network and the other tenants competing with the job."""

    disk_read_bps: float = DISK_READ_BPS
    disk_write_bps: float = DISK_WRITE_BPS
    other_threads: float = 0.0  # runnable threads of another process
    other_disk_read_bps: float = 0.0  # bytes/s another process streams from the data disk
    swap_storm: float = 0.0  # 0..1: how far past RAM the host's working set goes
    ib_ports: int = 8  # NDR ports for inter-node traffic (used when hosts > 1)


@dataclass(frozen=True, slots=True)
class Setup:
    """Everything a run needs: the job, the pipeline, every GPU (host-major) and every host."""

    hosts: int
    gpus: int
    workload: Workload
    loader: Loader
    gpu: tuple[GpuSetup, ...]
    host: tuple[HostSetup, ...]

    @classmethod
    def healthy(cls, hosts: int, gpus: int) -> Setup:
        return cls(hosts, gpus, Workload(), Loader(), (GpuSetup(),) * (hosts * gpus),
                   (HostSetup(),) * hosts)

    @property
    def ranks(self) -> int:
        return self.hosts * self.gpus

    def with_workload(self, **changes: Any) -> Setup:
        return dataclasses.replace(self, workload=dataclasses.replace(self.workload, **changes))

    def with_mix(self, **changes: Any) -> Setup:
        return self.with_workload(mix=dataclasses.replace(self.workload.mix, **changes))

    def with_loader(self, **changes: Any) -> Setup:
        return dataclasses.replace(self, loader=dataclasses.replace(self.loader, **changes))

    def with_gpu(self, index: int, host: int = 0, **changes: Any) -> Setup:
        """Change GPU `index` (clipped to the GPUs there are) of host `host`."""
        rank = host * self.gpus + min(index, self.gpus - 1)
        gpu = list(self.gpu)
        gpu[rank] = dataclasses.replace(gpu[rank], **changes)
        return dataclasses.replace(self, gpu=tuple(gpu))

    def with_host(self, host: int = 0, **changes: Any) -> Setup:
        hosts = list(self.host)
        hosts[host] = dataclasses.replace(hosts[host], **changes)
        return dataclasses.replace(self, host=tuple(hosts))


def lerp(healthy: float, faulty: float, intensity: float) -> float:
    """The value at `intensity` between the healthy (0) and the default faulty (1) value."""
    return healthy + (faulty - healthy) * intensity
