"""Shared fixtures. Hypothesis uses the `ci` profile (more examples, derandomized) under CI."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from profiler.trace import Trace

settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def make_trace() -> Callable[..., Trace]:
    """make_trace({"gpu0": {"gpu.util": [1, 0, 1]}}) -> a one-host Trace sampled every 1 s."""

    def make(series: dict[str, dict[str, Sequence[float]]], interval_s: float = 1.0,
             **kwargs: object) -> Trace:
        return Trace.from_series(series, interval_s=interval_s, **kwargs)  # type: ignore[arg-type]

    return make
