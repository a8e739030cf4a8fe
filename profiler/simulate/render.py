"""From per-series value arrays to the tidy samples table, plus the seeded sensor noise.

The table is laid out time-major, as a recorder writes it (every series at one tick, then the
next tick), and built with whole-array numpy operations: values are stacked into a (ticks x series)
matrix and raveled, keys are category codes tiled over the ticks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.catalog import kind_of
from profiler.simulate.integrate import F64, Grid


@dataclass(frozen=True, slots=True)
class Series:
    """One (host, entity, metric) series on the grid; samples from `until` on are absent."""

    host: str
    entity: str
    metric: str
    values: F64
    until: int | None = None


class Noise:
    """Seeded random streams, one per key, so a series' noise does not depend on call order."""

    def __init__(self, seed: int) -> None:
        self.seed = seed & 0xFFFF_FFFF_FFFF_FFFF

    def rng(self, *key: str | int) -> np.random.Generator:
        words = [zlib.crc32(str(k).encode()) for k in key]
        return np.random.default_rng([self.seed, *words])

    def normal(self, n: int, *key: str | int) -> F64:
        return self.rng(*key).standard_normal(n)


def noisy_ratio(values: F64, sigma: float, z: F64) -> F64:
    """A ratio with sensor noise that fades towards zero (an idle counter reads a clean 0)."""
    return np.clip(values + sigma * z * np.minimum(1.0, values / 0.05), 0.0, 1.0)


def noisy_rate(values: F64, rel: float, z: F64) -> F64:
    """A non-negative rate with relative noise."""
    return np.maximum(0.0, values * (1.0 + rel * z))


def quantize(values: F64, step: float) -> F64:
    return np.round(values / step) * step


def to_frame(series: Iterable[Series], grid: Grid, start_ns: int) -> pd.DataFrame:
    """The samples table (ts, host, entity, metric, value) with canonical dtypes."""
    items = list(series)
    for s in items:
        kind_of(s.metric)  # only catalog names leave the simulator
    n, width = grid.n, len(items)
    values = np.empty((n, width))
    for j, s in enumerate(items):
        values[:, j] = s.values
    keys = {}
    for col in ("host", "entity", "metric"):
        labels = [getattr(s, col) for s in items]
        cats = sorted(set(labels))
        index = {c: i for i, c in enumerate(cats)}
        codes = np.array([index[x] for x in labels], dtype=np.int32)  # valid by construction
        keys[col] = (np.tile(codes, n), cats)
    stamps = start_ns + np.round(grid.instants * 1e9).astype(np.int64)
    ts = pd.DatetimeIndex(stamps.view("M8[ns]"), tz="UTC").repeat(width)
    flat = values.ravel()
    limits = np.array([s.until if s.until is not None else n for s in items])
    keep = None
    if (limits < n).any():
        keep = (np.arange(n)[:, None] < limits[None, :]).ravel()
        ts, flat = ts[keep], flat[keep]
    columns: dict[str, object] = {"ts": ts}
    for col, (codes, cats) in keys.items():
        columns[col] = pd.Categorical.from_codes(codes if keep is None else codes[keep],
                                                 dtype=pd.CategoricalDtype(cats), validate=False)
    columns["value"] = flat
    return pd.DataFrame(columns, copy=False)
