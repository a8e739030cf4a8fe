"""Interval arithmetic on numpy arrays: unions, covered time inside windows, gaps.

Intervals are [start, end) in integer nanoseconds. Merging follows HTA's rule (an interval joins
the group before it when it starts at or before the furthest end so far), so sums match HTA's
even for the zero- or negative-length events its microsecond rounding creates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Merged:
    """Disjoint, sorted intervals: the union of some events."""

    starts: np.ndarray
    ends: np.ndarray

    @property
    def length(self) -> int:
        return int(self.ends.sum() - self.starts.sum())

    @property
    def span(self) -> int:
        """From the first start to the end of the last interval (HTA's kernel_time)."""
        return int(self.ends[-1] - self.starts[0]) if len(self.starts) else 0

    def covered_before(self, t: np.ndarray) -> np.ndarray:
        """Covered time in (-inf, t) for each t: one searchsorted, no loop."""
        lengths = np.maximum(self.ends - self.starts, 0)
        cum = np.concatenate(([0], np.cumsum(lengths)))
        i = np.searchsorted(self.starts, t, side="right") - 1
        inside = np.where(i >= 0, np.clip(t - self.starts[np.maximum(i, 0)], 0,
                                          lengths[np.maximum(i, 0)] if len(lengths) else 0), 0)
        out: np.ndarray = np.where(i >= 0, cum[np.maximum(i, 0)] + inside, 0)
        return out

    def covered(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Covered time inside each window [lo, hi)."""
        if not len(self.starts):
            return np.zeros(np.shape(lo), dtype=np.int64)
        out: np.ndarray = (self.covered_before(np.asarray(hi))
                           - self.covered_before(np.asarray(lo)))
        return out


EMPTY = Merged(np.zeros(0, np.int64), np.zeros(0, np.int64))


def merge(starts: np.ndarray, ends: np.ndarray) -> Merged:
    """Union of intervals, HTA-style: sort by start, group while start <= running max end."""
    if len(starts) == 0:
        return EMPTY
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_max = np.maximum.accumulate(e)
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    new[1:] = s[1:] > run_max[:-1]
    first = np.flatnonzero(new)
    return Merged(s[first], np.maximum.reduceat(e, first))


def union_of(*parts: Merged) -> Merged:
    if not parts:
        return EMPTY
    return merge(np.concatenate([p.starts for p in parts]),
                 np.concatenate([p.ends for p in parts]))


def intersection_length(a: Merged, b: Merged) -> int:
    """|A and B| = |A| + |B| - |A or B|."""
    if not len(a.starts) or not len(b.starts):
        return 0
    return a.length + b.length - union_of(a, b).length


def clip(m: Merged, lo: int, hi: int) -> Merged:
    """The part of `m` inside [lo, hi)."""
    s = np.maximum(m.starts, lo)
    e = np.minimum(m.ends, hi)
    keep = e > s
    return Merged(s[keep], e[keep])
