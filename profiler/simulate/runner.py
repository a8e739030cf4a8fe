"""simulate(): solve the step model, derive every metric from it, and package a Trace."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.errors import UsageError
from profiler.simulate import meta
from profiler.simulate.activity import Activity, governor, rank_activity, temperatures
from profiler.simulate.capacity import transfer
from profiler.simulate.hardware import DATA_DISK, NIC, OS_DISK
from profiler.simulate.health import LOST_AT_SHARE, Health, gpu_health, will_be_lost
from profiler.simulate.integrate import F64, Episodes, Grid, Piecewise, Windows
from profiler.simulate.model import (
    Conditions,
    Draws,
    Timeline,
    compute_clock_cap,
    solve,
    steps_needed,
)
from profiler.simulate.params import Setup
from profiler.simulate.registry import SCENARIOS, Scenario
from profiler.simulate.render import Noise, Series, to_frame
from profiler.simulate.render_gpu import USABLE_FB, GpuInputs, gpu_metrics
from profiler.simulate.render_host import (
    HostInputs,
    host_metrics,
    ib_metrics,
    port_congestion,
    swap_severity,
)
from profiler.trace import Trace, TraceMeta, empty_events, normalize_events

DEFAULT_START = "2026-01-01T00:00:00Z"
MIN_INTERVAL_S = 0.05
MAX_ROWS = 120_000_000  # about 6 GB while building; a day of 24 GPUs at 1 Hz fits
BRAKE_EPISODE_S = 20.0  # model choice: mean length of a power-brake episode
SLOT_OFFSET_C = (0.0, 0.5, 1.0, 1.5)  # model choice: inlet warming towards the back of the board


def simulate(scenario: str, *, duration_s: float = 600, gpus: int = 8, hosts: int = 1,
             interval_s: float = 1.0, seed: int = 0, intensity: float = 1.0,
             start: str | None = None) -> Trace:
    """A trace of `hosts` nodes of `gpus` H100s running a training job in `scenario`.

    `intensity` scales the scenario's fault from 0 (healthy) to 1 (its default strength); the
    same arguments always give the same samples.
    """
    spec = _scenario(scenario)
    grid = _grid(duration_s, interval_s, gpus, hosts, intensity)
    start_ts = _start(start)
    noise = Noise(seed)
    setup = _seeded(spec.build(Setup.healthy(hosts, gpus), intensity), noise)
    health = [gpu_health(g.hw_errors, grid, noise.rng("health", r))
              for r, g in enumerate(setup.gpu)]
    if any(will_be_lost(g.hw_errors) for g in setup.gpu):
        stop = min(setup.workload.stop_share, LOST_AT_SHARE)
        setup = setup.with_workload(stop_share=stop, stop_holds_memory=False)
    run = _run(setup, grid, noise)
    wire = Windows.of(run.timeline.xfer_on, run.timeline.xfer_off, grid)
    series = _gpu_series(run, wire, health, noise) + _host_series(run, wire, noise)
    frame = to_frame(series, grid, start_ts.value)
    return Trace(frame, _meta(spec, setup, grid, start_ts, seed, intensity),
                 _events(setup, health, start_ts))


@dataclass(frozen=True, slots=True)
class Run:
    """The solved job and each GPU's physical state."""

    setup: Setup
    grid: Grid
    timeline: Timeline
    acts: tuple[Activity, ...]
    temps: F64  # (ranks, n+1)
    governor: F64  # (ranks, n)
    cond: Conditions


def _run(setup: Setup, grid: Grid, noise: Noise) -> Run:
    brakes = tuple(_brake(g.brake_duty, grid, noise.rng("brake", r // setup.gpus))
                   for r, g in enumerate(setup.gpu))
    cond = Conditions(np.ones((setup.ranks, grid.n)), brakes, swap_severity(setup, grid))
    tl = _solve(setup, grid, cond, noise)
    acts = _activities(setup, grid, tl, brakes)
    static = np.stack([a.static_w for a in acts])
    dynamic = np.stack([a.dynamic_w for a in acts])
    temps, allowed = temperatures(setup, static + dynamic, grid)
    gov = governor(static, dynamic, allowed)
    if (gov < 0.999).any():  # the governor slowed some GPU: lay the job out again at its clock
        cond = dataclasses.replace(cond, thermal_clock=gov)
        tl = _solve(setup, grid, cond, noise)
        acts = _activities(setup, grid, tl, brakes)
        temps, _ = temperatures(setup, np.stack([a.power for a in acts]), grid)
    return Run(setup, grid, tl, acts, temps, gov, cond)


def _activities(setup: Setup, grid: Grid, tl: Timeline,
                brakes: tuple[Episodes, ...]) -> tuple[Activity, ...]:
    return tuple(rank_activity(tl, r, grid, setup, brakes[r].active(grid.instants))
                 for r in range(setup.ranks))


def _solve(setup: Setup, grid: Grid, cond: Conditions, noise: Noise) -> Timeline:
    steps = steps_needed(setup, grid)
    while True:  # runs once unless the step bound was short; each retry doubles it
        tl = solve(setup, grid, cond, Draws.make(noise.rng("steps", steps), setup, steps))
        if tl is not None:
            return tl
        steps *= 2


def _brake(duty: float, grid: Grid, rng: np.random.Generator) -> Episodes:
    if duty <= 0:
        return Episodes.none()
    count = max(1, math.ceil(1.3 * duty * grid.duration_s / BRAKE_EPISODE_S))
    starts = np.sort(rng.uniform(0.0, grid.duration_s, count))
    return Episodes.merged(starts, starts + 2.0 + rng.exponential(BRAKE_EPISODE_S, count))


def _gpu_series(run: Run, wire: Windows, health: list[Health], noise: Noise) -> list[Series]:
    s, grid, tl = run.setup, run.grid, run.timeline
    caps = compute_clock_cap(s)
    xfer = transfer(s)
    out: list[Series] = []
    for r in range(s.ranks):
        alive = np.full(grid.n, True) if s.workload.stop_holds_memory else grid.instants < tl.stop
        x = GpuInputs(s, grid, r, run.acts[r], run.temps[r], run.governor[r], float(caps[r]),
                      run.cond.brakes[r].share(grid), wire.rate, xfer, alive, health[r])
        host, entity = meta.host_name(r // s.gpus), f"gpu{r % s.gpus}"
        lost = health[r].lost_at
        until = int(np.searchsorted(grid.instants, lost)) if lost is not None else None
        out += [Series(host, entity, m, v, until)
                for m, v in gpu_metrics(x, noise, (host, entity)).items()]
    return out


def _host_series(run: Run, wire: Windows, noise: Noise) -> list[Series]:
    s, grid, tl = run.setup, run.grid, run.timeline
    steps = Piecewise(np.append(tl.start, tl.stop), grid)
    step_rate = steps.mean(np.append(1.0 / tl.duration, 0.0))
    names = {"host": "host", "data": DATA_DISK, "os": OS_DISK, "nic": NIC}
    xfer = transfer(s)
    out: list[Series] = []
    for h in range(s.hosts):
        shares = np.stack([a.shares for a in run.acts[h * s.gpus:(h + 1) * s.gpus]])
        x = HostInputs(s, grid, h, shares, step_rate, wire.share, run.cond.swap[h])
        groups = {names[k]: v for k, v in host_metrics(x, noise).items()}
        if s.hosts > 1:
            wait = wire.mean(port_congestion(wire.span, xfer.ib_bytes, s.host[h].ib_ports))
            groups.update(ib_metrics(s, h, wire.rate, wait, noise))
        out += [Series(meta.host_name(h), entity, m, v)
                for entity, metrics in groups.items() for m, v in metrics.items()]
    return out


def _events(setup: Setup, health: list[Health], start: pd.Timestamp) -> pd.DataFrame:
    rows = [{"ts": start + pd.to_timedelta(t, unit="s"), "host": meta.host_name(r // setup.gpus),
             "entity": f"gpu{r % setup.gpus}", "kind": kind, "code": code, "message": msg}
            for r, h in enumerate(health) for t, kind, code, msg in h.events]
    if not rows:
        return empty_events()
    return normalize_events(pd.DataFrame(rows).sort_values("ts", kind="stable"))


def _meta(spec: Scenario, setup: Setup, grid: Grid, start: pd.Timestamp, seed: int,
          intensity: float) -> TraceMeta:
    first = start + pd.to_timedelta(grid.instants[0], unit="s")
    last = start + pd.to_timedelta(grid.instants[-1], unit="s")
    fb = [setup.workload.fb_used_share * USABLE_FB for _ in setup.gpu]
    return TraceMeta(
        source=f"simulate:{spec.name}", interval_s=grid.interval_s, started=first.isoformat(),
        ended=last.isoformat(), hosts=meta.hosts_info(setup), gpus=meta.gpus_info(setup, seed),
        processes=meta.processes_info(setup, fb), unavailable=meta.absences(setup),
        labels={"scenario": spec.name, "seed": str(seed), "intensity": f"{intensity:g}"})


def _seeded(setup: Setup, noise: Noise) -> Setup:
    """Give each GPU its chip's leakage and its slot's inlet offset (seeded, small)."""
    rng = noise.rng("chips")
    leak = rng.normal(0.0, 5.0, setup.ranks)
    slot = rng.uniform(-0.3, 0.3, setup.ranks)
    gpus = tuple(dataclasses.replace(
        g, leakage_w=float(leak[r]),
        position_c=SLOT_OFFSET_C[(r % setup.gpus) % len(SLOT_OFFSET_C)] + float(slot[r]))
        for r, g in enumerate(setup.gpu))
    return dataclasses.replace(setup, gpu=gpus)


def _scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UsageError(f"unknown scenario {name!r}; choose one of: "
                         f"{', '.join(SCENARIOS)}") from None


def _grid(duration_s: float, interval_s: float, gpus: int, hosts: int,
          intensity: float) -> Grid:
    given = {"duration_s": duration_s, "interval_s": interval_s, "intensity": intensity}
    for name, value in given.items():
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise UsageError(f"{name} must be a finite number, not {value!r}")
    for name, count in {"gpus": gpus, "hosts": hosts}.items():
        if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 1:
            raise UsageError(f"{name} must be a whole number of at least 1, not {count!r}")
    if duration_s <= 0:
        raise UsageError(f"duration must be positive, not {duration_s:g} s")
    if interval_s < MIN_INTERVAL_S:
        raise UsageError(f"interval must be at least {MIN_INTERVAL_S:g} s, not {interval_s:g} s")
    if not 0.0 <= intensity <= 1.0:
        raise UsageError(f"intensity must be between 0 and 1, not {intensity:g}")
    n = math.floor(duration_s / interval_s + 1e-9)
    if n < 1:
        raise UsageError(f"duration {duration_s:g} s is shorter than one {interval_s:g} s interval")
    rows = n * hosts * (gpus * 41 + 60)
    if rows > MAX_ROWS:
        raise UsageError(f"that is about {rows:,} samples, more than {MAX_ROWS:,}: shorten the "
                         "duration, raise the interval or simulate fewer GPUs")
    return Grid(float(interval_s), n)


def _start(start: str | None) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start or DEFAULT_START)
    except (ValueError, TypeError):
        raise UsageError(f"start must be an ISO 8601 time, not {start!r}") from None
    if ts is pd.NaT:
        raise UsageError(f"start must be an ISO 8601 time, not {start!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
