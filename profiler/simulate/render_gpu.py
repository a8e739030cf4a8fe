"""The gpu.* metrics of one GPU, derived from its Activity and the job's shared transfers.

Per-cycle ratios (SM, tensor, DRAM, FP pipes) are each phase's kernel mix weighted by the share of
the interval spent in that phase; utilization counts phases with a kernel running (copies are not
kernels). Clock event reason bits are read at the sample instant; the throttle duration ratios
are the shares of the interval that the same conditions held.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.catalog import CLOCK_EVENT_BITS
from profiler.simulate.activity import Activity, BoolArray, phase_mixes, thermal_params
from profiler.simulate.capacity import Transfer, copy_bps
from profiler.simulate.hardware import (
    FB_RESERVED_BYTES,
    FB_TOTAL_BYTES,
    HW_THERMAL_CLOCK,
    MEM_CLOCK_HZ,
    MIB,
    PCIE_GEN_MAX,
    PCIE_IDLE_GEN,
    PCIE_WIDTH_MAX,
    SM_CLOCK_MAX_HZ,
    SM_CLOCK_STEP_HZ,
)
from profiler.simulate.health import Health
from profiler.simulate.integrate import F64, Grid
from profiler.simulate.model import CKPT_COPY, CKPT_WRITE, COMPUTE, D2H, H2D, NO_JOB, WAIT
from profiler.simulate.params import Setup
from profiler.simulate.render import Noise, noisy_rate, noisy_ratio, quantize

BG_RX_BPS = 20e6  # model choice: kernel launches and small host-to-GPU copies
BG_TX_BPS = 5e6  # model choice: losses and metrics read back
USABLE_FB = FB_TOTAL_BYTES - FB_RESERVED_BYTES
BIT = CLOCK_EVENT_BITS


@dataclass(frozen=True, slots=True)
class GpuInputs:
    """What one GPU's metrics are derived from."""

    setup: Setup
    grid: Grid
    rank: int
    act: Activity
    temp: F64  # (n+1,) die temperature at interval edges
    governor: F64  # (n,) clock share the thermal governor allowed
    cap_clock: float  # clock share the power limit allows while computing
    brake_share: F64  # (n,) share of each interval under the power brake
    xfer_rate: F64  # (n,) all-reduces per second (bytes/s = bytes per all-reduce * this)
    transfer: Transfer
    alive: BoolArray  # (n,) the job's process exists at the instant
    health: Health


def gpu_metrics(x: GpuInputs, noise: Noise, key: tuple[str, str]) -> dict[str, F64]:
    out = _activity(x, noise, key)
    out.update(_power_thermal(x, noise, key))
    out.update(_clocks(x))
    out.update(_links(x, noise, key))
    out.update(_memory_health(x))
    return out


def _activity(x: GpuInputs, noise: Noise, key: tuple[str, str]) -> dict[str, F64]:
    mixes = phase_mixes(x.setup)
    table = np.array([[m.sm, m.occupancy, m.tensor, m.fp16, m.fp32, m.fp64, m.dram,
                       float(m.kernel)] for m in mixes])
    sm, occ, tensor, fp16, fp32, fp64, dram, util = table.T @ x.act.shares
    n = x.grid.n
    names = ("gpu.sm_active", "gpu.sm_occupancy", "gpu.tensor_active", "gpu.fp16_active",
             "gpu.fp32_active", "gpu.fp64_active", "gpu.dram_active")
    out = {name: noisy_ratio(v, 0.006, noise.normal(n, *key, name))
           for name, v in zip(names, (sm, occ, tensor, fp16, fp32, fp64, dram), strict=True)}
    # NVML utilization is an integer percent; GPM's graphics activity is a double.
    out["gpu.util"] = np.round(noisy_ratio(util, 0.004, noise.normal(n, *key, "util")), 2)
    out["gpu.gr_engine_active"] = noisy_ratio(util, 0.004, noise.normal(n, *key, "gr"))
    out["gpu.mem_util"] = np.round(noisy_ratio(np.minimum(1.0, 1.1 * dram), 0.006,
                                               noise.normal(n, *key, "mem_util")), 2)
    return out


def _power_thermal(x: GpuInputs, noise: Noise, key: tuple[str, str]) -> dict[str, F64]:
    n = x.grid.n
    power = x.act.power * (1.0 + 0.003 * noise.normal(n, *key, "power"))
    _, inlet = thermal_params(x.setup)
    die = x.temp[1:]
    dram = x.act.shares.T @ np.array([m.dram for m in phase_mixes(x.setup)])
    mem = inlet[x.rank] + 12.0 + 0.45 * (die - inlet[x.rank]) + 5.0 * dram
    return {
        "gpu.power": np.round(power, 2),
        "gpu.power_limit": np.full(n, x.setup.gpu[x.rank].power_limit_w),
        "gpu.temp": np.round(die + 0.3 * noise.normal(n, *key, "temp")),
        "gpu.mem_temp": np.round(mem + 0.3 * noise.normal(n, *key, "mem_temp")),
    }


def _clocks(x: GpuInputs) -> dict[str, F64]:
    act, n = x.act, x.grid.n
    busy = ~act.idle
    thermal = (x.governor < 0.999) & busy
    capped = (act.phase == COMPUTE) & (x.cap_clock < 0.999) & busy
    bits = (np.where(act.idle, BIT["gpu_idle"], 0)
            | np.where(capped, BIT["sw_power_cap"], 0)
            | np.where(thermal, BIT["sw_thermal_slowdown"], 0)
            | np.where(thermal & (x.governor < HW_THERMAL_CLOCK), BIT["hw_thermal_slowdown"], 0)
            | np.where(act.braked, BIT["hw_slowdown"] | BIT["hw_power_brake_slowdown"], 0))
    idle_share = act.shares[[WAIT, CKPT_WRITE, NO_JOB]].sum(axis=0)
    return {
        "gpu.clock_sm": quantize(act.clock * SM_CLOCK_MAX_HZ, SM_CLOCK_STEP_HZ),
        "gpu.clock_sm_max": np.full(n, SM_CLOCK_MAX_HZ),
        "gpu.clock_mem": np.full(n, MEM_CLOCK_HZ),
        "gpu.clocks_event_reasons": bits.astype(np.float64),
        "gpu.throttle.power_cap": act.shares[COMPUTE] * (x.cap_clock < 0.999),
        "gpu.throttle.thermal": np.where(x.governor < 0.999, 1.0 - idle_share, 0.0),
        "gpu.throttle.power_brake": x.brake_share,
        "gpu.throttle.sync_boost": np.zeros(n),
    }


def _links(x: GpuInputs, noise: Noise, key: tuple[str, str]) -> dict[str, F64]:
    act, n, gpu = x.act, x.grid.n, x.setup.gpu[x.rank]
    bps = copy_bps(x.setup)[x.rank]
    running = 1.0 - act.shares[NO_JOB]
    direct = x.transfer.gpudirect_bytes * x.xfer_rate
    rx = act.shares[H2D] * bps + direct + BG_RX_BPS * running
    tx = act.shares[[D2H, CKPT_COPY]].sum(axis=0) * bps + direct + BG_TX_BPS * running
    nvlink = x.transfer.nvlink_bytes * x.xfer_rate
    return {
        "gpu.pcie_rx": noisy_rate(rx, 0.02, noise.normal(n, *key, "pcie_rx")),
        "gpu.pcie_tx": noisy_rate(tx, 0.02, noise.normal(n, *key, "pcie_tx")),
        "gpu.pcie_gen": np.where(act.idle, PCIE_IDLE_GEN, gpu.pcie_gen).astype(np.float64),
        "gpu.pcie_width": np.full(n, float(gpu.pcie_width)),
        "gpu.pcie_gen_max": np.full(n, float(PCIE_GEN_MAX)),
        "gpu.pcie_width_max": np.full(n, float(PCIE_WIDTH_MAX)),
        "gpu.nvlink_tx": noisy_rate(nvlink, 0.01, noise.normal(n, *key, "nvlink_tx")),
        "gpu.nvlink_rx": noisy_rate(nvlink, 0.01, noise.normal(n, *key, "nvlink_rx")),
    }


def _memory_health(x: GpuInputs) -> dict[str, F64]:
    h, n = x.health, x.grid.n
    used = np.where(x.alive, round(x.setup.workload.fb_used_share * USABLE_FB / MIB) * MIB, 0.0)
    return {
        "gpu.fb_used": used,
        "gpu.fb_free": USABLE_FB - used,
        "gpu.fb_total": np.full(n, FB_TOTAL_BYTES),
        "gpu.fb_used_ratio": used / USABLE_FB,
        "gpu.process_count": x.alive.astype(np.float64),
        "gpu.ecc_corrected": h.corrected,
        "gpu.ecc_uncorrected": h.uncorrected,
        "gpu.remapped_rows_uncorrectable": h.remapped,
        "gpu.row_remap_pending": h.pending,
        "gpu.row_remap_failure": h.failure,
        "gpu.xid_last": h.xid_last,
    }
