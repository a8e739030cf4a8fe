"""Shared fixtures: simulated traces (cached per argument set) and a wide view of their samples."""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

from profiler.simulate import simulate
from profiler.trace import Trace
from tests.simulate.helpers import Run, Wide


@cache
def _simulate(scenario: str, duration_s: float, gpus: int, hosts: int, seed: int,
              intensity: float, interval_s: float) -> Trace:
    return simulate(scenario, duration_s=duration_s, gpus=gpus, hosts=hosts, seed=seed,
                    intensity=intensity, interval_s=interval_s)


@pytest.fixture
def run() -> Run:
    """run("healthy", seed=1) -> a Trace (shared between tests: do not modify it)."""

    def make(scenario: str, *, duration_s: float = 300, gpus: int = 8, hosts: int = 1,
             seed: int = 0, intensity: float = 1.0, interval_s: float = 1.0) -> Trace:
        return _simulate(scenario, duration_s, gpus, hosts, seed, intensity, interval_s)

    return make


@pytest.fixture
def wide() -> Wide:
    """wide(trace, "gpu3") -> samples of one entity of node1 as a frame: one column per metric."""

    def pivot(trace: Trace, entity: str, host: str = "node1") -> pd.DataFrame:
        s = trace.samples
        mine = s[(s["host"] == host) & (s["entity"] == entity)]
        frame = mine.pivot(index="ts", columns="metric", values="value")
        frame.columns = frame.columns.astype(str)
        return frame

    return pivot

