"""Small helpers for the simulator tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from profiler.catalog import CLOCK_EVENT_BITS
from profiler.trace import Trace

Run = Callable[..., Trace]  # the `run` fixture
Wide = Callable[..., pd.DataFrame]  # the `wide` fixture

IDLE = CLOCK_EVENT_BITS["gpu_idle"]
POWER_CAP = CLOCK_EVENT_BITS["sw_power_cap"]
THERMAL = CLOCK_EVENT_BITS["sw_thermal_slowdown"] | CLOCK_EVENT_BITS["hw_thermal_slowdown"]
BRAKE = CLOCK_EVENT_BITS["hw_slowdown"] | CLOCK_EVENT_BITS["hw_power_brake_slowdown"]


def bits(frame: pd.DataFrame, mask: int) -> pd.Series:
    """Whether each sample's clock event reasons have any bit of `mask` set."""
    reasons = frame["gpu.clocks_event_reasons"].to_numpy().astype(np.int64)
    return pd.Series((reasons & mask) != 0, index=frame.index)


def metric(samples: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one metric."""
    return samples[samples["metric"] == name]
