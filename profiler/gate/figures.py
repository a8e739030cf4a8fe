"""The key figures the gate compares, as time-ordered series taken from a Trace.

A figure family (`gpu_busy`, `step_time`, ...) yields one or more figures (`gpu_busy`,
`gpu_busy/node1/gpu0`, ...). A figure may come from more than one source metric (GPU busy share
is SM activity where the GPU reports it, else utilization); each side keeps every source it has,
and the comparison uses the first source both sides share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from profiler.features import Features
from profiler.gate.stats import Direction

FloorKind = Literal["relative", "absolute"]


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of figure: which way is better, the unit, and the default practical floor."""

    name: str
    better: Direction
    unit: str
    floor: float
    floor_kind: FloorKind
    meaning: str


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("gpu_busy", "higher", "ratio", 0.03, "relative",
           "GPU busy share over all GPUs: SM activity where available, else utilization"),
    Family("gpu_busy_per_gpu", "higher", "ratio", 0.03, "relative",
           "GPU busy share of each GPU (gpu_busy/HOST/GPU)"),
    Family("step_time", "lower", "s", 0.03, "relative",
           "training step time, where the recording knows its steps (PyTorch traces)"),
    Family("tensor_active", "higher", "ratio", 0.03, "relative",
           "throughput proxy: tensor-core activity, mean over GPUs"),
    Family("nvlink_bytes", "higher", "bytes/s", 0.03, "relative",
           "throughput proxy: NVLink bytes/s over all GPUs (gradient exchange per step is fixed)"),
    Family("pcie_rx_bytes", "higher", "bytes/s", 0.03, "relative",
           "throughput proxy: host-to-GPU PCIe bytes/s over all GPUs (input batches)"),
    Family("finding_loss", "lower", "ratio", 0.03, "absolute",
           "each finding's gpu_time_lost, per diagnosed window (loss/ID)"),
)}

BUSY_SOURCES = ("gpu.sm_active", "gpu.util")


@runtime_checkable
class StepTimes(Protocol):
    """An analysis a loader attaches to `Trace.analyses` when it knows the training steps."""

    def step_times(self) -> np.ndarray:
        """Duration of each step in seconds, in step order."""
        ...


@dataclass(frozen=True, slots=True)
class Series:
    figure: str       # "gpu_busy", "gpu_busy/node1/gpu0", "step_time", ...
    family: str
    source: str       # the metric (or analysis) it comes from
    values: np.ndarray


def warmup_bins(n: int, step_s: float, share: float, min_s: float) -> int:
    """Bins dropped at the start: `share` of the recording, at least `min_s` seconds."""
    return min(n, max(math.ceil(share * n), math.ceil(min_s / step_s)))


def trace_series(features: Features, families: tuple[str, ...], *, warmup: float,
                 warmup_min_s: float, warmup_min_steps: int) -> list[Series]:
    """Every figure of the chosen families this trace can give, warm-up removed."""
    skip = warmup_bins(features.n_bins, features.step_s, warmup, warmup_min_s)
    out: list[Series] = []
    for source in BUSY_SOURCES:
        frame = features.wide(source).reindex(columns=features.gpus).iloc[skip:]
        if frame.empty or frame.shape[1] == 0 or frame.notna().sum().sum() == 0:
            continue
        frame = frame.clip(0.0, 1.0)
        if "gpu_busy" in families:
            out.append(Series("gpu_busy", "gpu_busy", source, _row_mean(frame)))
        if "gpu_busy_per_gpu" in families:
            out.extend(Series(f"gpu_busy/{gpu}", "gpu_busy_per_gpu", source,
                              _finite(frame[gpu].to_numpy())) for gpu in frame.columns)
    sums = {"tensor_active": ("gpu.tensor_active", "mean"),
            "nvlink_bytes": ("gpu.nvlink_total|gpu.nvlink_tx+gpu.nvlink_rx", "sum"),
            "pcie_rx_bytes": ("gpu.pcie_rx", "sum")}
    for family, (spec, how) in sums.items():
        if family not in families:
            continue
        series = _aggregate(features, spec, how, skip)
        if series is not None:
            out.append(Series(family, family, series[0], series[1]))
    if "step_time" in families:
        steps = _step_times(features, warmup, warmup_min_steps)
        if steps is not None:
            out.append(Series("step_time", "step_time", "steps", steps))
    return out


def _aggregate(features: Features, spec: str, how: str,
               skip: int) -> tuple[str, np.ndarray] | None:
    """First alternative of `spec` ("a|b+c") the trace has, summed or averaged over GPUs."""
    for alternative in spec.split("|"):
        parts = alternative.split("+")
        if not all(features.has(p) for p in parts):
            continue
        frame = sum((features.wide(p).reindex(columns=features.gpus) for p in parts),
                    start=pd.DataFrame(0.0, index=features.index, columns=features.gpus))
        frame = frame.iloc[skip:]
        values = (frame.sum(axis=1, min_count=1) if how == "sum"
                  else frame.mean(axis=1)).to_numpy()
        return alternative, _finite(values)
    return None


def _step_times(features: Features, warmup: float, min_steps: int) -> np.ndarray | None:
    for analysis in features.trace.analyses.values():
        if isinstance(analysis, StepTimes):
            steps = _finite(np.asarray(analysis.step_times(), dtype="float64"))
            skip = min(len(steps), max(math.ceil(warmup * len(steps)), min_steps))
            return steps[skip:]
    return None


def _row_mean(frame: pd.DataFrame) -> np.ndarray:
    values: np.ndarray = frame.mean(axis=1).to_numpy()
    return _finite(values)


def _finite(values: np.ndarray) -> np.ndarray:
    arr: np.ndarray = np.asarray(values, dtype="float64")
    kept: np.ndarray = arr[np.isfinite(arr)]
    return kept
