"""Shared thresholds and helpers of the pipe-activity rules (tensor-cores-unused,
memory-bandwidth-bound): both classify busy bins by which GPU pipes are active, and both report a
share of busy time, not a measured cost (gpu_time_lost None, severity from the share)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Severity, Threshold
from profiler.features import Features
from rules._gpu_clocks import on_gpus
from rules._gpu_clocks import pct as pct

KEMPNERPULSE = "KempnerPulse docs/classification.md (DCGM-profiling workload classes)"

PIPE_ACTIVE = Threshold(
    0.15, unit="ratio", bounds=(0.0, 1.0),
    source=f"{KEMPNERPULSE}: 'tensor compute' starts at tensor active >= 15 %, the lowest "
           "pipe activity it counts as meaningful compute",
    help="a compute pipe (tensor, FP16, FP32, FP64) at or above this is doing real work")
DRAM_BUSY = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source=f"{KEMPNERPULSE}: 'memory-bound' = DRAM active >= 50 % (practical peak ~80 %)",
    help="DRAM interface active share at or above which bandwidth is the limiting resource")
MIN_BUSY_SHARE = Threshold(
    0.25, unit="ratio", bounds=(0.0, 1.0),
    source="project choice: a pattern in a quarter of busy time is a recurring phase of the "
           "job (one model of several, the backward pass), not a stray sample",
    help="share of busy time showing the pattern for the rule to fire (severity info)")
WARNING_SHARE = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="project choice: the pattern holds for most of the busy time, so it is the job's "
           "dominant behaviour (severity warning)",
    help="share of busy time at or above which the finding is a warning")


def metric(f: Features, name: str) -> pd.DataFrame:
    """`name` on the grid, one column per GPU, clipped to a ratio."""
    return on_gpus(f, f.wide(name)).clip(0.0, 1.0)


def busiest(f: Features, names: tuple[str, ...]) -> pd.DataFrame:
    """Per bin and GPU: the highest activity among the pipes `names` that were recorded."""
    frames = [metric(f, n) for n in names if f.has(n)]
    if not frames:
        return on_gpus(f, pd.DataFrame(index=f.index))
    stacked = np.stack([fr.to_numpy() for fr in frames])
    with np.errstate(all="ignore"):
        top = np.where(np.isnan(stacked).all(axis=0), np.nan, np.nanmax(
            np.where(np.isnan(stacked), -np.inf, stacked), axis=0))
    return pd.DataFrame(top, index=f.index, columns=frames[0].columns)


def share_of_busy(match: pd.DataFrame, busy: pd.DataFrame) -> pd.Series:
    """Per GPU: bins matching the pattern over busy bins (NaN when never busy)."""
    busy_n = busy.sum()
    return (match & busy).sum() / busy_n.where(busy_n > 0)


def severity(share: float, warning_share: float) -> Severity:
    return "warning" if share >= warning_share else "info"
