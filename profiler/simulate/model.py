"""The step model: a synchronous data-parallel training job laid out as phases in time.

Each step, every rank (one per GPU) runs: data wait (its input pipeline is behind), H2D copy of
the batch, stall (GPU idle while the host cannot issue work: launch gaps, allocator retries, page
faults), compute (forward + backward), D2H, exposed communication (NCCL kernels from the end of
its backward until the all-reduce completes), optimizer, and now and then a checkpoint (D2H copy
of the state, then the GPU idles while the host writes it).

The all-reduce synchronizes the ranks: gradient buckets flow from when the slowest rank starts its
backward, the transfer takes what the slowest link allows, and it cannot finish before the slowest
rank's last bucket. Every rank therefore waits for the slowest, and the next step starts for all
of them together. The input pipeline runs ahead with a prefetch buffer; a rank waits for data only
when producing a batch takes longer, on average over the buffer, than the rest of the step.

Conditions that change over time (thermal governor, power brake, swap storm) are read at each
step's start; step starts depend on the durations before them, so the layout is solved by a few
fixed-point passes over all steps at once rather than a loop over steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from profiler.simulate import capacity
from profiler.simulate.hardware import HW_SLOWDOWN_CLOCK, power_cap_clock
from profiler.simulate.integrate import F64, Episodes, Grid
from profiler.simulate.params import Setup

PHASES = ("data_wait", "h2d", "stall", "compute", "d2h", "comm", "optimizer",
          "checkpoint_copy", "checkpoint_write")
WAIT, H2D, STALL, COMPUTE, D2H, COMM, OPT, CKPT_COPY, CKPT_WRITE = range(len(PHASES))
NO_JOB = len(PHASES)  # after the job stopped: the tail segment of every rank
PASSES = 3  # fixed-point passes; conditions change over tens of seconds, steps last < 1 s
SWAP_LOADER_SLOWDOWN = 2.5  # model choice: loader time multiplier per unit of swap severity
SWAP_MAIN_STALL = 0.6  # model choice: main-thread fault stalls per unit compute and severity


@dataclass(frozen=True, slots=True)
class Conditions:
    """Time-varying inputs, per interval of the sample grid."""

    thermal_clock: F64  # (ranks, n): clock share the thermal governor allows
    brakes: tuple[Episodes, ...]  # per rank: when the external power brake is asserted
    swap: F64  # (hosts, n): swap-storm severity 0..1


@dataclass(frozen=True, slots=True)
class Draws:
    """The random numbers of a run, drawn once so that every pass sees the same ones."""

    compute: F64  # (ranks, steps) lognormal factors on compute time
    loader: F64  # (ranks, steps) lognormal factors on batch production time
    optimizer: F64  # (steps,)
    transfer: F64  # (steps,)
    offset: float  # share of a step the job is into when the window opens

    @classmethod
    def make(cls, rng: np.random.Generator, setup: Setup, steps: int) -> Draws:
        r, w, ld = setup.ranks, setup.workload, setup.loader
        return cls(np.exp(rng.normal(0.0, w.jitter, (r, steps))),
                   np.exp(rng.normal(0.0, ld.jitter, (r, steps))),
                   np.exp(rng.normal(0.0, 0.05, steps)),
                   np.exp(rng.normal(0.0, 0.03, steps)), float(rng.random()))


@dataclass(frozen=True, slots=True)
class Timeline:
    """The solved layout: step times (shared by all ranks) and each rank's phase durations."""

    start: F64  # (steps,)
    duration: F64  # (steps,)
    phases: F64  # (ranks, steps, len(PHASES)) seconds
    clock_compute: F64  # (ranks, steps) SM clock share while computing
    clock_other: F64  # (ranks, steps) SM clock share in the other active phases
    braked: NDArray[np.bool_]  # (ranks, steps) the power brake was on when the step started
    xfer_on: F64  # (steps,) when gradient bytes start to flow
    xfer_off: F64  # (steps,) when the all-reduce completes
    checkpoint: NDArray[np.bool_]  # (steps,)

    @property
    def stop(self) -> float:
        """When the last step ends and the job stops issuing work."""
        return float(self.start[-1] + self.duration[-1])

    def segments(self, rank: int) -> tuple[F64, NDArray[np.int64], NDArray[np.int64]]:
        """Segment starts, phase ids and step ids of one rank, the NO_JOB tail included."""
        dur = self.phases[rank]
        starts = (self.start[:, None] + np.cumsum(dur, axis=1) - dur).ravel()
        steps = len(self.start)
        phase = np.append(np.tile(np.arange(len(PHASES)), steps), NO_JOB)
        step = np.append(np.repeat(np.arange(steps), len(PHASES)), steps - 1)
        return np.append(starts, self.stop), phase, step


def rank_hosts(setup: Setup) -> NDArray[np.int64]:
    return np.repeat(np.arange(setup.hosts), setup.gpus)


def compute_clock_cap(setup: Setup) -> F64:
    """Per rank, the SM clock share the power limit allows while computing."""
    mix = setup.workload.mix
    return np.array([power_cap_clock(mix, g.power_limit_w - g.leakage_w) for g in setup.gpu])


def stall_share(setup: Setup) -> F64:
    """Per rank, idle time per unit of compute while the host cannot issue work: the main thread
    waiting for a CPU (fair share, or a core shared with pinned threads), allocator retries."""
    need = setup.workload.launch_cpu_need
    share = capacity.cpu_fair_share(setup)
    got = np.array([min(share[h], 1.0 / (1 + g.pinned_contention))
                    for h, g in zip(rank_hosts(setup), setup.gpu, strict=True)])
    return np.maximum(0.0, need / got - 1.0) + setup.workload.alloc_stall_share


def steps_needed(setup: Setup, grid: Grid) -> int:
    """An upper bound on how many steps fit in the window (steps never run faster than this)."""
    w = setup.workload
    fastest = (w.compute_s * np.exp(-5 * w.jitter) + w.optimizer_s * np.exp(-0.25))
    fastest = max(fastest, capacity.transfer(setup).seconds * 0.85, 1e-3)
    return int(np.ceil(grid.duration_s / fastest)) + 3


@dataclass(frozen=True, slots=True)
class _Fixed:
    """What does not change from step to step: per rank (column vectors) or per run."""

    host_of: NDArray[np.int64]
    copy_s: F64  # (ranks, 2): H2D and D2H seconds
    stall: F64  # (ranks, 1)
    clock_cap: F64  # (ranks, 1)
    loader_s: F64  # (ranks, 1): batch production time before jitter and swapping
    xfer: capacity.Transfer
    checkpoint: tuple[float, float]  # copy and write seconds

    @classmethod
    def of(cls, setup: Setup) -> _Fixed:
        host_of = rank_hosts(setup)
        return cls(host_of, capacity.copy_seconds(setup), stall_share(setup)[:, None],
                   np.minimum(compute_clock_cap(setup), 1.0)[:, None],
                   capacity.loader_seconds(setup)[host_of][:, None], capacity.transfer(setup),
                   capacity.checkpoint_seconds(setup))


@dataclass(frozen=True, slots=True)
class _Layout:
    """One pass: every step's phases and clocks, relative to the step's start."""

    phases: F64  # (ranks, steps, len(PHASES))
    clock_compute: F64
    clock_other: F64
    braked: NDArray[np.bool_]
    on: F64
    off: F64
    checkpoint: NDArray[np.bool_]

    @property
    def duration(self) -> F64:
        return np.asarray(self.off + self.phases[0, :, OPT:].sum(axis=1), dtype=np.float64)


def _lay_out(setup: Setup, fx: _Fixed, grid: Grid, cond: Conditions, draws: Draws,
             start: F64, duration: F64) -> _Layout:
    """Every step's phases given when the steps start (and, for checkpoints, how long they
    last): the conditions are read at each start."""
    w = setup.workload
    i = grid.index(start)
    brake = np.array([b.active(start) for b in cond.brakes])
    f_other = cond.thermal_clock[:, i] * np.where(brake, HW_SLOWDOWN_CLOCK, 1.0)
    f_comp = fx.clock_cap * f_other
    severity = cond.swap[fx.host_of][:, i]
    base = w.compute_s * draws.compute
    compute = base * (w.memory_bound + (1 - w.memory_bound) / f_comp)
    stall = base * (fx.stall + SWAP_MAIN_STALL * severity)
    opt = (w.optimizer_s * draws.optimizer / f_other).max(axis=0)
    every = w.checkpoint_every_s  # the first one half a period into the window
    ckpt = np.floor((start + duration) / every - 0.5) > np.floor(start / every - 0.5)
    tail = opt + np.where(ckpt, sum(fx.checkpoint), 0.0)
    produce = _buffered(fx.loader_s * draws.loader * (1 + SWAP_LOADER_SLOWDOWN * severity),
                        max(1, setup.loader.workers * setup.loader.prefetch))
    lead = fx.copy_s[:, :1] + stall
    arrive = lead + compute + fx.copy_s[:, 1:]
    backward = lead + compute * (1 - w.backward_share)
    transfer = fx.xfer.seconds * draws.transfer
    on, off = _allreduce(backward, arrive, transfer, fx.xfer.tail)
    wait = np.maximum(0.0, produce - (off + tail))
    on, off = _allreduce(backward + wait, arrive + wait, transfer, fx.xfer.tail)
    phases = np.zeros((setup.ranks, len(start), len(PHASES)))
    for phase, seconds in ((WAIT, wait), (H2D, fx.copy_s[:, :1]), (STALL, stall),
                           (COMPUTE, compute), (D2H, fx.copy_s[:, 1:]),
                           (COMM, off - arrive - wait), (OPT, opt),
                           (CKPT_COPY, np.where(ckpt, fx.checkpoint[0], 0.0)),
                           (CKPT_WRITE, np.where(ckpt, fx.checkpoint[1], 0.0))):
        phases[..., phase] = seconds
    return _Layout(phases, f_comp, f_other, brake, on, off, ckpt)


def solve(setup: Setup, grid: Grid, cond: Conditions, draws: Draws) -> Timeline | None:
    """Lay the job out in time; None when `draws` holds too few steps to reach the window end."""
    w, fx = setup.workload, _Fixed.of(setup)
    steps = draws.compute.shape[1]
    nominal = w.compute_s + w.optimizer_s + fx.copy_s.sum(axis=1).max() + fx.xfer.tail
    start = nominal * (np.arange(steps) - draws.offset)
    duration = np.full(steps, nominal)
    for _ in range(PASSES):
        lay = _lay_out(setup, fx, grid, cond, draws, start, duration)
        duration = lay.duration
        start = start[0] + np.concatenate([[0.0], np.cumsum(duration[:-1])])
    stop_at = w.stop_share * grid.duration_s
    if start[-1] + duration[-1] < min(stop_at, grid.duration_s):
        return None
    keep = slice(0, max(1, min(steps, int(np.searchsorted(start, stop_at, side="left")))))
    tl = Timeline(start[keep], duration[keep], lay.phases[:, keep], lay.clock_compute[:, keep],
                  lay.clock_other[:, keep], lay.braked[:, keep], (start + lay.on)[keep],
                  (start + lay.off)[keep], lay.checkpoint[keep])
    return tl if w.stop_holds_memory else _cut_at(tl, stop_at)


def _cut_at(tl: Timeline, stop: float) -> Timeline:
    """The job dies at `stop`: its last step ends there, whatever phase it was in."""
    last = tl.start[-1]
    if last + tl.duration[-1] <= stop:
        return tl
    room = stop - last
    ends = np.minimum(np.cumsum(tl.phases[:, -1], axis=1), room)
    phases = tl.phases.copy()
    phases[:, -1] = np.diff(ends, axis=1, prepend=0.0)
    duration = tl.duration.copy()
    duration[-1] = room
    return dataclasses.replace(tl, duration=duration, phases=phases,
                               xfer_on=np.minimum(tl.xfer_on, stop),
                               xfer_off=np.minimum(tl.xfer_off, stop))


def _allreduce(backward: F64, arrive: F64, transfer: F64, tail: float) -> tuple[F64, F64]:
    """When bytes start to flow (slowest rank's backward) and when the all-reduce completes."""
    on = backward.max(axis=0)
    off = np.maximum(on + transfer, arrive.max(axis=0) + tail)
    return on, off


def _buffered(produce: F64, depth: int) -> F64:
    """Batch production time averaged over the prefetch buffer (a rolling mean along steps)."""
    depth = min(depth, produce.shape[1])
    padded = np.concatenate([np.repeat(produce[:, :1], depth - 1, axis=1), produce], axis=1)
    cum = np.cumsum(padded, axis=1)
    cum = np.concatenate([np.zeros((produce.shape[0], 1)), cum], axis=1)
    return np.asarray((cum[:, depth:] - cum[:, :-depth]) / depth, dtype=np.float64)
