"""Across ranks: step times, the slowest rank against the median, and late arrival into
collectives (the k-th communication kernel of every rank is the same collective; the rank that
starts it last holds the others inside it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from profiler.pytorch import kinds
from profiler.pytorch.reader import RankEvents

NS_PER_US = 1000


def collective_starts(r: RankEvents) -> np.ndarray:
    """Absolute start times (ns) of the rank's communication kernels, in order."""
    f = r.frame
    comm = kinds.kernel_types(r.names)[f["name"].cat.codes.to_numpy()] == kinds.COMMUNICATION
    comm &= f["stream"].to_numpy() >= 0
    out: np.ndarray = np.sort(f["ts"].to_numpy()[comm]) + r.origin_ns
    return out


def late_arrival(ranks: Sequence[RankEvents]) -> pd.DataFrame:
    """Per rank: how late it starts each collective against the earliest rank, how often it is
    the last, and the waiting it causes the others (Σ over collectives it starts last)."""
    cols = ["collectives", "late_mean_us", "late_max_us", "times_last", "wait_caused_us"]
    starts = [collective_starts(r) for r in ranks]
    n = min((len(s) for s in starts), default=0)
    if len(ranks) < 2 or n == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([r.rank for r in ranks], name="rank"))
    grid = np.stack([s[:n] for s in starts])  # ranks x collectives
    late = grid - grid.min(axis=0)
    last = grid.argmax(axis=0)
    caused = (grid.max(axis=0) - grid).sum(axis=0)  # everyone's wait on each collective
    wait = np.bincount(last, weights=caused, minlength=len(ranks))
    return pd.DataFrame({
        "collectives": n,
        "late_mean_us": late.mean(axis=1) / NS_PER_US,
        "late_max_us": late.max(axis=1) / NS_PER_US,
        "times_last": np.bincount(last, minlength=len(ranks)),
        "wait_caused_us": wait / NS_PER_US,
    }, index=pd.Index([r.rank for r in ranks], name="rank"))


def cross_rank(step_summary: pd.DataFrame, arrival: pd.DataFrame) -> pd.DataFrame:
    """Step time per rank against the median rank, joined with late arrival."""
    out = pd.DataFrame(index=arrival.index)
    step = step_summary["step_time_us"].reindex(out.index).astype("float64")
    out["step_time_us"] = step
    median = float(step.median()) if step.notna().any() else float("nan")
    out["vs_median"] = step / median if median == median and median > 0 else np.nan
    return out.join(arrival)
