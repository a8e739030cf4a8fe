"""Each GPU's physical state on the sample grid: phase shares, power, clocks and temperature.

Averaged quantities (phase shares, power) integrate the rank's phase timeline over each sample
interval. Instantaneous ones (the SM clock, the clock event reasons, the PCIe link state) are read
at the sample's instant, as NVML reads them. Temperature follows a first-order lag of power; the SW
thermal governor holds the die at its maximum operating temperature by lowering the clock, which
is the clock share `governor` returns for the next pass of the step model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from profiler.simulate.capacity import NVLINK_BPS
from profiler.simulate.hardware import (
    COMM_MIX,
    COPY_MIX,
    HW_SLOWDOWN_CLOCK,
    IDLE_DETECT_S,
    IDLE_MIX,
    INLET_C,
    NVLINK_LINK_BYTES_PER_S,
    NVLINK_LINKS,
    OPTIMIZER_MIX,
    POWER_COPY_W,
    POWER_GAMMA,
    POWER_IDLE_CONTEXT_W,
    POWER_IDLE_W,
    POWER_NVLINK_W,
    POWER_WAIT_W,
    SM_CLOCK_IDLE_HZ,
    SM_CLOCK_MAX_HZ,
    THERMAL_HOLD_C,
    THERMAL_R_C_PER_W,
    THERMAL_TAU_S,
    KernelMix,
    clamped_first_order,
    dynamic_power,
    first_order,
    static_power,
)
from profiler.simulate.integrate import F64, I64, Grid, Piecewise
from profiler.simulate.model import (
    CKPT_COPY,
    CKPT_WRITE,
    COMM,
    COMPUTE,
    D2H,
    H2D,
    NO_JOB,
    OPT,
    PHASES,
    WAIT,
    Timeline,
)
from profiler.simulate.params import Setup

BoolArray = NDArray[np.bool_]
IDLE_CLOCK_SHARE = SM_CLOCK_IDLE_HZ / SM_CLOCK_MAX_HZ
WARMUP_S = 60.0  # the job ran before the window: start each GPU at its thermal equilibrium


def phase_mixes(setup: Setup) -> tuple[KernelMix, ...]:
    """What the kernels of each phase (NO_JOB last) do to the GPU."""
    mixes = [IDLE_MIX] * (len(PHASES) + 1)
    for p in (H2D, D2H, CKPT_COPY):
        mixes[p] = COPY_MIX
    mixes[COMPUTE], mixes[COMM], mixes[OPT] = setup.workload.mix, COMM_MIX, OPTIMIZER_MIX
    return tuple(mixes)


def _phase_power(setup: Setup, rank: int) -> tuple[F64, F64]:
    """Per phase: watts that ignore the SM clock, and watts at full clock that scale with it."""
    mixes = phase_mixes(setup)
    nvlink_share = NVLINK_BPS / (NVLINK_LINKS * NVLINK_LINK_BYTES_PER_S)
    static = np.array([static_power(m) for m in mixes])
    static[[WAIT, CKPT_WRITE]] = [POWER_WAIT_W, POWER_IDLE_CONTEXT_W]
    static[[H2D, D2H, CKPT_COPY]] += POWER_COPY_W
    static[COMM] += POWER_NVLINK_W * nvlink_share
    static[NO_JOB] = POWER_IDLE_CONTEXT_W if setup.workload.stop_holds_memory else POWER_IDLE_W
    static += setup.gpu[rank].leakage_w
    dynamic = np.array([dynamic_power(m) if m.kernel else 0.0 for m in mixes])
    return static, dynamic


@dataclass(frozen=True, slots=True)
class Activity:
    """One GPU over the grid: averages per interval and its state at each sample instant."""

    shares: F64  # (len(PHASES)+1, n): share of each interval spent in each phase
    static_w: F64  # (n,) average power that ignores the SM clock
    dynamic_w: F64  # (n,) average power that scales with it
    phase: I64  # (n,) phase at the sample instant
    idle: BoolArray  # (n,) nothing running long enough for NVML to call the GPU idle
    clock: F64  # (n,) SM clock share at the instant
    braked: BoolArray  # (n,) the external power brake is asserted at the instant

    @property
    def power(self) -> F64:
        return self.static_w + self.dynamic_w


def rank_activity(tl: Timeline, rank: int, grid: Grid, setup: Setup,
                  brake_now: BoolArray) -> Activity:
    """One GPU's state; `brake_now` says whether the power brake is on at each sample instant
    (the brake cuts the clock at once, while step durations follow it step by step)."""
    starts, phase, step = tl.segments(rank)
    pw = Piecewise(starts, grid)
    shares = _shares(tl.phases[rank], pw)
    clock = np.where(phase == COMPUTE, tl.clock_compute[rank, step], tl.clock_other[rank, step])
    static, dynamic = _phase_power(setup, rank)
    static_w = pw.mean(static[phase])
    dynamic_w = pw.mean(dynamic[phase] * clock**POWER_GAMMA)
    seg, into = pw.at(grid.instants)
    now = phase[seg]
    idle = (now == NO_JOB) | (np.isin(now, (WAIT, CKPT_WRITE)) & (into >= IDLE_DETECT_S))
    at = step[seg]
    brake_fix = np.where(brake_now, HW_SLOWDOWN_CLOCK, 1.0) / np.where(
        tl.braked[rank, at], HW_SLOWDOWN_CLOCK, 1.0)
    return Activity(shares, static_w, dynamic_w, now, idle,
                    np.where(idle, IDLE_CLOCK_SHARE, clock[seg] * brake_fix), brake_now)


def _shares(durations: F64, pw: Piecewise) -> F64:
    """Per phase (NO_JOB last), the share of each interval: (phases + 1, n).

    Phases repeat in a fixed order every step, so the time spent in phase p before an edge is the
    per-phase running total over whole steps plus the part of the edge's own step: one cumsum
    over steps serves every phase at once.
    """
    steps, width = durations.shape
    totals = np.zeros((steps + 1, width + 1))
    np.cumsum(durations, axis=0, out=totals[1:, :width])
    seg, into = pw.at_edge, pw.into
    tail = seg == steps * width
    step = np.minimum(seg // width, steps)
    phase = seg % width
    spent = totals[step]
    own = durations[np.minimum(step, steps - 1)]
    earlier = (np.arange(width)[None, :] < phase[:, None]) & ~tail[:, None]
    spent[:, :width] += np.where(earlier, own, 0.0)
    inside = np.flatnonzero(~tail)
    spent[inside, phase[inside]] += into[inside]
    spent[tail, width] = into[tail]
    shares: F64 = np.clip(np.diff(spent, axis=0).T / pw.grid.interval_s, 0.0, 1.0)
    return shares


def thermal_params(setup: Setup) -> tuple[F64, F64]:
    """Per rank: thermal resistance (C/W) and inlet air temperature (C)."""
    r_th = np.array([THERMAL_R_C_PER_W * g.cooling for g in setup.gpu])
    inlet = np.array([INLET_C + g.inlet_delta_c + g.position_c for g in setup.gpu])
    return r_th, inlet


def temperatures(setup: Setup, power: F64, grid: Grid) -> tuple[F64, F64]:
    """Die temperature at every interval edge (ranks, n+1) with the governor's ceiling, and
    the power (ranks, n) the governor let through to stay under it."""
    r_th, inlet = thermal_params(setup)
    alpha = float(np.exp(-grid.interval_s / THERMAL_TAU_S))
    warm = max(1, min(grid.n, int(WARMUP_S / grid.interval_s)))
    start = inlet + r_th * power[:, :warm].mean(axis=1)
    free = first_order(inlet[:, None] + r_th[:, None] * power, start, alpha)
    held = clamped_first_order(free, np.full(len(inlet), THERMAL_HOLD_C), alpha)
    if alpha <= 0.0:
        return held, power
    allowed = ((held[:, 1:] - alpha * held[:, :-1]) / (1 - alpha) - inlet[:, None]) / r_th[:, None]
    return held, np.minimum(power, allowed)


def governor(static_w: F64, dynamic_w: F64, allowed_w: F64) -> F64:
    """The SM clock share that brings each interval's power down to what the governor allows."""
    over = static_w + dynamic_w - allowed_w > 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.clip((allowed_w - static_w) / dynamic_w, 0.0, 1.0)
    clock = np.where(over & (dynamic_w > 1.0), scale ** (1.0 / POWER_GAMMA), 1.0)
    return np.asarray(np.clip(clock, 0.3, 1.0), dtype=np.float64)
