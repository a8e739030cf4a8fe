"""Metadata of a simulated trace: hosts, GPUs (DGX-H100-like topology), rank processes, labels."""

from __future__ import annotations

import uuid

from profiler.simulate.hardware import (
    CPU_COUNT,
    FB_TOTAL_BYTES,
    GPU_NAME,
    MEM_TOTAL_BYTES,
    NUMA_NODES,
    NVLINK_LINKS,
    PCIE_GEN_MAX,
    PCIE_WIDTH_MAX,
    SM_CLOCK_MAX_HZ,
)
from profiler.simulate.params import Setup
from profiler.trace import Absence, GpuInfo, HostInfo, ProcessInfo

# PCI buses of the eight GPUs of a DGX H100 (nvidia-smi topo); more GPUs get further buses.
BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
DRIVER_VERSION, CUDA_VERSION = "550.90.07", "12.4"
KERNEL = "5.15.0-simulated"
COLLECTOR = "simulate"


def host_name(h: int) -> str:
    return f"node{h + 1}"


def numa_node(index: int, gpus: int) -> int:
    """GPUs in the first half of the board hang off socket 0, the rest off socket 1."""
    return 0 if gpus == 1 else (index * NUMA_NODES) // gpus


def node_cpus(node: int) -> tuple[int, ...]:
    """Logical CPUs of a NUMA node, Linux numbering: cores first, then their SMT siblings."""
    per_node = CPU_COUNT // NUMA_NODES // 2
    cores = range(node * per_node, (node + 1) * per_node)
    return tuple(cores) + tuple(c + CPU_COUNT // 2 for c in cores)


def _uuid(seed: int, host: int, index: int) -> str:
    return "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_OID, f"profiler-sim/{seed}/{host}/{index}"))


def _bus(index: int) -> str:
    bus = BUSES[index] if index < len(BUSES) else 0xE0 + index - len(BUSES)
    return f"00000000:{bus:02X}:00.0"


def hosts_info(setup: Setup) -> tuple[HostInfo, ...]:
    return tuple(HostInfo(host_name(h), cpu_count=CPU_COUNT, mem_total=MEM_TOTAL_BYTES,
                          numa_nodes=NUMA_NODES, kernel=KERNEL, driver_version=DRIVER_VERSION,
                          cuda_driver_version=CUDA_VERSION) for h in range(setup.hosts))


def gpus_info(setup: Setup, seed: int) -> tuple[GpuInfo, ...]:
    out = []
    for h in range(setup.hosts):
        for i in range(setup.gpus):
            node = numa_node(i, setup.gpus)
            out.append(GpuInfo(
                host_name(h), f"gpu{i}", i, name=GPU_NAME, uuid=_uuid(seed, h, i), bus_id=_bus(i),
                numa_node=node, cpu_affinity=node_cpus(node), architecture="hopper",
                pcie_max_gen=PCIE_GEN_MAX, pcie_max_width=PCIE_WIDTH_MAX,
                nvlink_count=NVLINK_LINKS, nvlink_version=4, memory_total=FB_TOTAL_BYTES,
                power_limit=setup.gpu[h * setup.gpus + i].power_limit_w,
                max_sm_clock=SM_CLOCK_MAX_HZ, gpm=True, mig=False))
    return tuple(out)


def processes_info(setup: Setup, fb_used: list[float]) -> tuple[ProcessInfo, ...]:
    """One rank process per GPU, pinned to the GPU's socket (or the other one when misaligned)."""
    out = []
    for h in range(setup.hosts):
        for i in range(setup.gpus):
            rank = h * setup.gpus + i
            node = numa_node(i, setup.gpus)
            if setup.gpu[rank].numa_misaligned:
                node = (node + 1) % NUMA_NODES
            out.append(ProcessInfo(host_name(h), f"gpu{i}", 4100 + 17 * rank, name="python",
                                   gpu_memory=fb_used[rank], cpus_allowed=node_cpus(node),
                                   mems_allowed=(node,)))
    return tuple(out)


def absences(setup: Setup) -> tuple[Absence, ...]:
    out = [Absence("cpu.*", "the simulator models host-wide CPU shares, not each core",
                   collector=COLLECTOR)]
    if setup.hosts == 1:
        out.append(Absence("ib.*", "a single simulated host has no inter-node traffic",
                           collector=COLLECTOR))
    return tuple(out)
