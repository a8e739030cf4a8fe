"""Physical models of the simulated node: an 8-GPU H100 SXM5 board in a two-socket host.

Every constant names its source. "capture" means the nvidia-smi output quoted in
../shared/reference (nvml.md, dcgm-and-nvidia-smi.md) or a public `nvidia-smi -q` of a Hopper SXM
board (Shutdown 92 / Slowdown 89 / Max Operating 87 / Memory Max Operating 95 C, 74.71 W idle at
345 MHz); "datasheet" means NVIDIA's or the vendor's published figure; "model choice" marks a
number no public source gives, chosen to land the derived metrics on values seen in practice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from profiler.catalog import pcie_bandwidth

F64 = NDArray[np.float64]
MIB = 1024.0**2
GIB = 1024.0**3

# --- GPU identity and limits ------------------------------------------------------------------
GPU_NAME = "NVIDIA H100 80GB HBM3"
SM_CLOCK_MAX_HZ = 1.98e9  # capture: clocks.max.sm 1980 MHz
SM_CLOCK_IDLE_HZ = 345e6  # capture: idle SM clock 345 MHz
SM_CLOCK_STEP_HZ = 15e6  # datasheet: H100 supported graphics clocks step by 15 MHz
MEM_CLOCK_HZ = 2.619e9  # capture: clocks.mem 2619 MHz, idle and loaded
FB_TOTAL_BYTES = 81559 * MIB  # capture: FB total 81559 MiB
FB_RESERVED_BYTES = 479 * MIB  # capture (nvml.md §3.3): driver-reserved 479 MiB
POWER_LIMIT_W = 700.0  # capture/datasheet: H100 SXM5 default and max power limit
TEMP_MAX_OPERATING_C = 87.0  # capture: GPU Max Operating Temp; SW thermal slowdown above it
PCIE_GEN_MAX, PCIE_WIDTH_MAX = 5, 16  # datasheet: PCIe Gen5 x16
PCIE_IDLE_GEN = 1  # nvml.md §3.5: the link drops its speed at idle to save power
PCIE_EFFICIENCY = 0.85  # model choice: pinned cudaMemcpy reaches ~53 of 63 GB/s on Gen5 x16
NUMA_REMOTE_COPY = 0.6  # model choice: H2D from the far socket's memory crosses UPI
NVLINK_LINKS = 18  # datasheet: NVLink 4, 18 links on H100 SXM5
NVLINK_LINK_BYTES_PER_S = 25e9  # datasheet: 25 GB/s per link per direction (900 GB/s total)
NVLINK_EFFICIENCY = 0.82  # model choice: NCCL all-reduce bus bandwidth ~370 GB/s on 8x H100

# --- GPU power model: P = static + dynamic * f**GAMMA (f = SM clock / max) ---------------------
POWER_IDLE_W = 70.0  # capture: 69.85 W at 345 MHz, no process
POWER_IDLE_CONTEXT_W = 78.0  # model choice: idle with a CUDA context held, clocks dropped
POWER_WAIT_W = 82.0  # model choice: short idle gaps inside a step (clock not fully down)
POWER_ACTIVE_BASE_W = 105.0  # model choice: clocks up, nothing issuing (leakage + uncore)
POWER_SM_W = 480.0  # model choice: SM dynamic power at full activity, tensor-heavy mix
POWER_DRAM_W = 110.0  # model choice: HBM3 at full bandwidth
POWER_NVLINK_W = 25.0  # model choice: all 18 links at full rate
POWER_COPY_W = 15.0  # model choice: copy engines + PCIe PHY during a DMA
POWER_GAMMA = 2.2  # model choice: P_dyn ~ f V^2 with V rising with f in the DVFS range
POWER_CAP_MARGIN = 0.995  # the SW power controller regulates just under the enforced limit

# --- GPU thermal model: first order, T_ss = inlet + R * P -------------------------------------
INLET_C = 27.0  # model choice: cold-aisle air after the front of the chassis
THERMAL_R_C_PER_W = 0.058  # capture: 63 C at 631 W, 35 C at 75 W -> ~0.055-0.06 C/W
THERMAL_TAU_S = 45.0  # model choice: heatsink time constant (tens of seconds)
THERMAL_HOLD_C = TEMP_MAX_OPERATING_C + 0.5  # the SW thermal governor holds the die here
HW_THERMAL_CLOCK = 0.6  # a governor asking for less clock than this engages HW slowdown
HW_SLOWDOWN_CLOCK = 0.45  # nvml.md §3.8: HW slowdown cuts clocks by a factor of 2 or more
IDLE_DETECT_S = 0.05  # model choice: idle this long and NVML reports GpuIdle at idle clock

# --- Host: a DGX-H100-like two-socket server --------------------------------------------------
CPU_COUNT = 224  # datasheet: 2x Xeon Platinum 8480C, 56 cores each, SMT on
NUMA_NODES = 2
MEM_TOTAL_BYTES = 2.0 * 1024**4  # datasheet: 2 TB system memory
SWAP_TOTAL_BYTES = 32 * GIB  # model choice: a swap file on the OS disk
DATA_DISK = "nvme0n1"  # dataset and checkpoints
OS_DISK = "nvme1n1"  # root filesystem and swap
DISK_READ_BPS = 6.5e9  # datasheet: PCIe Gen4 U.2 NVMe sequential read
DISK_WRITE_BPS = 3.5e9  # datasheet: same drive, sequential write
OS_DISK_SWAP_BPS = 0.8e9  # model choice: 4 KiB random swap I/O on the OS drive
DISK_LATENCY_S = 100e-6  # model choice: NVMe read latency of one 128 KiB request
DISK_REQUEST_BYTES = 128 * 1024.0
NIC = "eth0"
NIC_SPEED_BPS = 100e9 / 8  # 100 GbE, bytes/s per direction
NFS_BPS = 2.0e9  # model choice: throughput one NFS server gives one client
IB_PORT_BPS = 400e9 / 8  # node-exporter.md §7: NDR 400 Gb/s, bytes/s per direction
IB_EFFICIENCY = 0.96  # model choice: RDMA payload after headers at line rate
IB_XMIT_WAIT_TICKS_PER_S = 2.5e8  # model choice: PortXmitWait ticks per second of full stall


@dataclass(frozen=True, slots=True)
class KernelMix:
    """What a phase's kernels do to the GPU per cycle at full clock (ratios 0..1)."""

    kernel: bool
    sm: float = 0.0
    occupancy: float = 0.0
    tensor: float = 0.0
    fp16: float = 0.0
    fp32: float = 0.0
    fp64: float = 0.0
    dram: float = 0.0

    @property
    def weight(self) -> float:
        """Energy per active SM cycle relative to a tensor-core GEMM mix (model choice)."""
        return min(1.0, 0.6 + 0.7 * self.tensor + 0.4 * self.fp32 + 0.2 * self.fp16
                   + 0.9 * self.fp64)


IDLE_MIX = KernelMix(kernel=False)
COPY_MIX = KernelMix(kernel=False, dram=0.03)
COMM_MIX = KernelMix(kernel=True, sm=0.13, occupancy=0.05, fp32=0.03, dram=0.22)
OPTIMIZER_MIX = KernelMix(kernel=True, sm=0.70, occupancy=0.40, fp16=0.05, fp32=0.25, dram=0.75)


def static_power(mix: KernelMix) -> float:
    """Watts of an active phase that do not scale with the SM clock."""
    return POWER_ACTIVE_BASE_W + POWER_DRAM_W * mix.dram


def dynamic_power(mix: KernelMix) -> float:
    """Watts of an active phase at full SM clock that scale with f**POWER_GAMMA."""
    return POWER_SM_W * mix.sm * mix.weight


def power_cap_clock(mix: KernelMix, limit_w: float, scale: float = 1.0) -> float:
    """SM clock share at which a phase's power fits under `limit_w` (1.0 when it already does)."""
    dyn = dynamic_power(mix) * scale
    room = limit_w * POWER_CAP_MARGIN - static_power(mix)
    if dyn <= 0 or static_power(mix) + dyn <= limit_w * POWER_CAP_MARGIN:
        return 1.0
    return float(np.clip(room / dyn, 0.05, 1.0) ** (1.0 / POWER_GAMMA))


def pcie_copy_bps(gen: int, width: int, numa_remote: bool) -> float:
    """Achievable DMA bytes/s per direction on a link (pinned host memory)."""
    bps = pcie_bandwidth(gen, width) * PCIE_EFFICIENCY
    return bps * (NUMA_REMOTE_COPY if numa_remote else 1.0)


def first_order(target: F64, y0: F64, alpha: float) -> F64:
    """y[i+1] = alpha*y[i] + (1-alpha)*target[i] along the last axis; returns y[0..n].

    Exact for a first-order lag fed a piecewise-constant input. Vectorized in closed form over
    blocks short enough that alpha**-block stays well inside float64 range; the loop runs over
    blocks (a handful per day of samples), never over samples.
    """
    target = np.atleast_2d(target)
    rows, n = target.shape
    out = np.empty((rows, n + 1))
    out[:, 0] = y0
    if alpha <= 0.0:
        out[:, 1:] = target
        return out
    block = max(1, int(20.0 / -np.log(alpha)))
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        j = np.arange(1, hi - lo + 1, dtype=np.float64)
        grow = alpha ** -(j - 1)  # alpha**-m for m = 0 .. len-1
        acc = np.cumsum((1.0 - alpha) * target[:, lo:hi] * grow, axis=1)
        out[:, lo + 1:hi + 1] = alpha**j * (out[:, lo:lo + 1] + acc / alpha)
    return out


def clamped_first_order(unclamped: F64, ceiling: F64, alpha: float) -> F64:
    """The lag of `first_order` with its output held at or below `ceiling` (per row).

    A governor that never lets the state pass a ceiling composes monotone affine maps with a
    min, so T[i] = Y[i] - max(0, max_{j<=i} alpha**(i-j) * (Y[j] - ceiling)) where Y is the free
    response. The inner max is a running maximum taken in log space, so it cannot overflow.
    """
    excess = unclamped - ceiling[:, None]
    n = unclamped.shape[1]
    decay = -np.log(alpha) * np.arange(n) if alpha > 0 else np.zeros(n)
    with np.errstate(divide="ignore"):
        logged = np.where(excess > 0, np.log(np.maximum(excess, 1e-300)), -np.inf) + decay
    run = np.maximum.accumulate(logged, axis=1) - decay
    with np.errstate(over="ignore"):
        held = np.where(np.isfinite(run), np.exp(np.minimum(run, 700.0)), 0.0)
    return unclamped - held
