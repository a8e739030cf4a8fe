"""What each resource can do for the job: link bandwidths, all-reduce, copy and loader times.

The all-reduce is a ring over all ranks: each rank sends (and receives) 2(R-1)/R of the gradient
bytes per step. Inside a host every hop is NVLink; with several hosts, rings cross each host
boundary, so per host the gradient traffic that leaves (and enters) over InfiniBand is that same
2(R-1)/R share, spread over the host's ports, and each GPU carries 1/G of it over PCIe to its NIC
(GPUDirect RDMA). All hops of a ring move data at the pace of the slowest, so the transfer time
is the largest of bytes/bandwidth over the three kinds of hop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from profiler.simulate.hardware import (
    CPU_COUNT,
    IB_EFFICIENCY,
    IB_PORT_BPS,
    NFS_BPS,
    NVLINK_EFFICIENCY,
    NVLINK_LINK_BYTES_PER_S,
    NVLINK_LINKS,
    pcie_copy_bps,
)
from profiler.simulate.params import Setup

F64 = NDArray[np.float64]
HOP_LATENCY_S = 8e-6  # model choice: per ring hop, NCCL LL/Simple protocol start-up
TAIL_SHARE = 0.08  # model choice: the last gradient bucket as a share of the transfer
NUMA_LOADER_PENALTY = 0.15  # model choice: extra CPU per batch when workers run on the far socket
NVLINK_BPS = NVLINK_LINKS * NVLINK_LINK_BYTES_PER_S * NVLINK_EFFICIENCY


@dataclass(frozen=True, slots=True)
class Transfer:
    """One step's all-reduce: its time when nothing else limits it, and the bytes it moves."""

    seconds: float
    tail: float  # time after the slowest rank's last bucket is ready
    ring_bytes: float  # bytes each rank sends (and receives) per step
    nvlink_bytes: float  # of those, over NVLink, per rank
    ib_bytes: float  # per host per direction, over all its ports
    gpudirect_bytes: float  # per rank per direction over PCIe to the NIC


def transfer(setup: Setup) -> Transfer:
    r, g, h = setup.ranks, setup.gpus, setup.hosts
    if r == 1:
        return Transfer(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    ring = 2.0 * (r - 1) / r * setup.workload.grad_bytes
    nvlink = ring * (g - 1) / g if h > 1 else ring
    ib = ring if h > 1 else 0.0
    gpudirect = ring / g if h > 1 else 0.0
    ports = min(host.ib_ports for host in setup.host)
    pcie = min(pcie_copy_bps(gpu.pcie_gen, gpu.pcie_width, False) for gpu in setup.gpu)
    seconds = max(nvlink / NVLINK_BPS,
                  ib / (ports * IB_PORT_BPS * IB_EFFICIENCY) if ib else 0.0,
                  gpudirect / pcie)
    latency = 2 * (r - 1) * HOP_LATENCY_S
    return Transfer(seconds + latency, TAIL_SHARE * seconds + latency, ring, nvlink, ib, gpudirect)


def copy_bps(setup: Setup) -> F64:
    """Per rank, achievable host<->GPU copy bytes/s over its (possibly degraded) link."""
    return np.array([pcie_copy_bps(g.pcie_gen, g.pcie_width, g.numa_misaligned)
                     for g in setup.gpu])


def copy_seconds(setup: Setup) -> F64:
    """Per rank, seconds of the H2D and D2H copies of one step: shape (ranks, 2)."""
    w = setup.workload
    return np.array([w.h2d_bytes, w.d2h_bytes])[None, :] / copy_bps(setup)[:, None]


def checkpoint_seconds(setup: Setup) -> tuple[float, float]:
    """Seconds to copy one rank's checkpoint shard to the host, and for every host to write it."""
    w = setup.workload
    copy = w.checkpoint_bytes / float(copy_bps(setup).min())
    write = max(setup.gpus * w.checkpoint_bytes / host.disk_write_bps for host in setup.host)
    return copy, write


def loader_threads(setup: Setup) -> int:
    """DataLoader worker processes per host."""
    return setup.gpus * setup.loader.workers


def cpu_fair_share(setup: Setup) -> F64:
    """Per host, the share of a core each busy thread gets when the CPUs are oversubscribed."""
    threads = setup.gpus + loader_threads(setup)
    return np.array([min(1.0, CPU_COUNT / (threads + host.other_threads))
                     for host in setup.host])


def numa_misaligned_share(setup: Setup) -> F64:
    """Per host, the share of its ranks pinned to the far socket."""
    flags = np.array([g.numa_misaligned for g in setup.gpu], dtype=np.float64)
    return np.asarray(flags.reshape(setup.hosts, setup.gpus).mean(axis=1), dtype=np.float64)


def loader_cpu_per_batch(setup: Setup) -> F64:
    """Per host, core-seconds one batch costs (workers on the far socket pay extra)."""
    return setup.loader.cpu_s * (1.0 + NUMA_LOADER_PENALTY * numa_misaligned_share(setup))


def storage_bytes_per_batch(setup: Setup) -> float:
    """Dataset bytes one batch reads from storage (page-cache misses)."""
    return setup.loader.read_bytes * (1.0 - setup.loader.cache_hit)


def loader_seconds(setup: Setup) -> F64:
    """Per host, seconds the input pipeline needs per batch of each rank, all ranks at once.

    The pipeline's pace is its slowest stage: the host's storage serving every rank's batch, the
    workers' CPU time (at their fair share when CPUs are oversubscribed), or a remote service.
    """
    ld, g = setup.loader, setup.gpus
    reads = g * storage_bytes_per_batch(setup)
    share = cpu_fair_share(setup)
    cpu = loader_cpu_per_batch(setup) / (ld.workers * share)
    out = np.empty(setup.hosts)
    for h, host in enumerate(setup.host):
        if ld.source == "local":
            free = max(0.2 * host.disk_read_bps, host.disk_read_bps - host.other_disk_read_bps)
            io = reads / free
        elif ld.source == "nfs":
            io = reads / NFS_BPS
        else:
            io = 0.0
        out[h] = max(io, float(cpu[h]), ld.remote_s)
    return out
