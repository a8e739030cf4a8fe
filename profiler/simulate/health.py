"""A GPU whose HBM is failing: ECC counters, row remapping and the XIDs the driver logs.

The progression follows NVIDIA's documented sequence for Ampere and newer parts: corrected (SBE)
errors accumulate; an uncorrectable error in use is contained (XID 94) and its row is marked for
remapping (XID 63, remap pending until a GPU reset); a second one is a double-bit error (XID 48);
in the worst case the GPU falls off the bus (XID 79) and the job dies with it. Severity picks how
far along the window gets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.simulate.integrate import F64, Grid

LOST_AT_SHARE = 0.85  # a GPU that falls off the bus does so at this share of the window
SBE_PER_S = 0.02  # model choice: corrected errors per second on a failing part
SBE_FROM_SHARE = 0.1  # corrected errors start this far into the window


@dataclass(frozen=True, slots=True)
class Stage:
    at_share: float
    min_severity: float
    events: tuple[tuple[str, int | None, str], ...]  # kind, code, message


STAGES = (
    Stage(0.30, 0.0, (("xid", 94, "Xid 94: Contained ECC error (uncorrectable, contained)"),
                      ("ecc", None, "uncorrectable ECC error in device memory"),
                      ("xid", 63, "Xid 63: row remapping event, pending GPU reset"))),
    Stage(0.55, 0.5, (("xid", 48, "Xid 48: DBE (double bit error) ECC error"),
                      ("ecc", None, "double-bit ECC error in device memory"),
                      ("xid", 63, "Xid 63: row remapping event, pending GPU reset"))),
    Stage(LOST_AT_SHARE, 0.9, (("xid", 79, "Xid 79: GPU has fallen off the bus"),
                               ("gpu_lost", 79, "GPU has fallen off the bus; NVML reports "
                                "GpuIsLost"))),
)


@dataclass(frozen=True, slots=True)
class Health:
    """Counters at each sample instant, the events with their times (s), and when it was lost."""

    corrected: F64
    uncorrected: F64
    remapped: F64
    pending: F64
    failure: F64
    xid_last: F64
    events: tuple[tuple[float, str, int | None, str], ...]
    lost_at: float | None

    @classmethod
    def sound(cls, grid: Grid) -> Health:
        zero = np.zeros(grid.n)
        return cls(zero, zero, zero, zero, zero, zero, (), None)


def will_be_lost(severity: float) -> bool:
    return severity > 0 and severity >= STAGES[-1].min_severity


def gpu_health(severity: float, grid: Grid, rng: np.random.Generator) -> Health:
    if severity <= 0:
        return Health.sound(grid)
    t = grid.instants
    stages = [s for s in STAGES if severity >= s.min_severity]
    times = [s.at_share * grid.duration_s for s in stages]
    reached = np.array([t >= when for when in times])  # (stages, n)
    memory_errors = reached[:2].sum(axis=0).astype(np.float64)
    xid = np.zeros(grid.n)
    for stage, hit in zip(stages, reached, strict=True):
        code = [c for kind, c, _ in stage.events if kind == "xid"][-1]
        xid[hit] = float(code or 0)
    rate = SBE_PER_S * severity * grid.interval_s * (t > SBE_FROM_SHARE * grid.duration_s)
    events = tuple((when, kind, code, msg) for stage, when in zip(stages, times, strict=True)
                   for kind, code, msg in stage.events)
    lost = times[-1] if will_be_lost(severity) else None
    return Health(np.cumsum(rng.poisson(rate)).astype(np.float64), memory_errors, memory_errors,
                  (memory_errors > 0).astype(np.float64), np.zeros(grid.n), xid, events, lost)
