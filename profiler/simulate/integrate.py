"""Time-averages of piecewise-constant signals over sample intervals, and episode sets.

Samples are interval averages (NVML utilization, GPM ratios, power and byte counters all are), so
every averaged metric is the integral of a step function over each sample interval. The integral
is a cumulative sum over segments evaluated at the interval edges: one searchsorted per segment
layout, then one cumsum and one gather per signal. No Python loop runs per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Grid:
    """The sample grid: sample i averages [i*interval, (i+1)*interval) and is stamped at its end."""

    interval_s: float
    n: int

    @property
    def duration_s(self) -> float:
        return self.interval_s * self.n

    @property
    def edges(self) -> F64:
        return np.arange(self.n + 1, dtype=np.float64) * self.interval_s

    @property
    def instants(self) -> F64:
        """When each sample is read: the end of its interval."""
        return self.edges[1:]

    def index(self, t: F64) -> I64:
        """The interval holding each time (times outside the window go to the nearest one)."""
        return np.clip(np.floor(t / self.interval_s), 0, self.n - 1).astype(np.int64)


class Piecewise:
    """Segments starting at `starts` (increasing; the last one never ends), seen on a grid."""

    def __init__(self, starts: F64, grid: Grid) -> None:
        if starts[0] > 0.0:
            raise ValueError("segments must start at or before the first sample interval")
        self.starts = starts
        self.grid = grid
        edges = grid.edges
        self.at_edge = np.searchsorted(starts, edges, side="right") - 1
        self.into = edges - starts[self.at_edge]
        self._lengths = np.diff(starts)

    def mean(self, values: F64) -> F64:
        """Per-interval average of the signal that takes values[j] on segment j."""
        cum = np.empty(len(values))
        cum[0] = 0.0
        np.cumsum(values[:-1] * self._lengths, out=cum[1:])
        at = cum[self.at_edge] + values[self.at_edge] * self.into
        return np.diff(at) / self.grid.interval_s

    def at(self, t: F64) -> tuple[I64, F64]:
        """The segment holding each time, and how long it had run by then."""
        seg = np.searchsorted(self.starts, t, side="right") - 1
        return seg, t - self.starts[seg]


@dataclass(frozen=True, slots=True)
class Windows:
    """Recurring windows [on[k], off[k]) (each all-reduce's transfer, say) seen on a grid."""

    segments: Piecewise  # window k is segment 2k+1; gaps and a lead-in are the others
    span: F64  # each window's length
    share: F64  # per interval, the share of time inside a window
    rate: F64  # per interval, windows per second: a per-window amount times this is per second

    @classmethod
    def of(cls, on: F64, off: F64, grid: Grid) -> Windows:
        lead = min(grid.edges[0], float(on[0]) if len(on) else 0.0) - 1.0
        starts = np.empty(2 * len(on) + 1)
        starts[0] = lead
        starts[1::2] = on
        starts[2::2] = np.maximum(off, on)
        segments = Piecewise(starts, grid)
        span = np.maximum(off - on, 0.0)
        share = segments.mean(_in_windows(np.ones(len(on))))
        per = np.where(span > 0, 1.0 / np.maximum(span, 1e-12), 0.0)
        return cls(segments, span, share, segments.mean(_in_windows(per)))

    def mean(self, per_window: F64) -> F64:
        """Per interval, the time-average of a value that holds inside each window (0 outside)."""
        return self.segments.mean(_in_windows(per_window))


def _in_windows(per_window: F64) -> F64:
    values = np.zeros(2 * len(per_window) + 1)
    values[1::2] = per_window
    return values


@dataclass(frozen=True, slots=True)
class Episodes:
    """Disjoint, sorted time windows during which something holds (a power brake, say)."""

    starts: F64
    ends: F64

    @classmethod
    def none(cls) -> Episodes:
        return cls(np.empty(0), np.empty(0))

    @classmethod
    def merged(cls, starts: F64, ends: F64) -> Episodes:
        """Union of possibly overlapping windows."""
        if len(starts) == 0:
            return cls.none()
        order = np.argsort(starts, kind="stable")
        s, e = starts[order], np.maximum.accumulate(ends[order])
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > e[:-1]
        group = np.cumsum(new) - 1
        out_e = np.zeros(int(group[-1]) + 1)
        np.maximum.at(out_e, group, e)
        return cls(s[new], out_e)

    def active(self, t: F64) -> NDArray[np.bool_]:
        if len(self.starts) == 0:
            return np.zeros(np.shape(t), dtype=bool)
        i = np.searchsorted(self.starts, t, side="right") - 1
        return (i >= 0) & (t < self.ends[np.clip(i, 0, None)])

    def share(self, grid: Grid) -> F64:
        """Per interval, the share of time inside an episode."""
        if len(self.starts) == 0:
            return np.zeros(grid.n)
        edges = grid.edges
        lengths = self.ends - self.starts
        before = np.concatenate([[0.0], np.cumsum(lengths)])
        i = np.searchsorted(self.starts, edges, side="right") - 1
        inside = np.clip(edges - self.starts[np.clip(i, 0, None)], 0.0,
                         lengths[np.clip(i, 0, None)])
        covered = np.where(i >= 0, before[np.clip(i, 0, None)] + inside, 0.0)
        return np.clip(np.diff(covered) / grid.interval_s, 0.0, 1.0)
