"""Monte-Carlo error rates of the gate on autocorrelated series (used by a test and a bench).

Data model (../shared/reference/ci-gate.md §3): each recording of a figure is an AR(1) series
x_t = mu + e_t, e_t = phi e_{t-1} + eps_t, started in its stationary distribution with marginal
sd = cv * mu. Baseline mu = 1; candidate mu = 1 - drop (a higher-is-better figure getting
worse). Each trial runs the gate's own comparison (compare()) on the two sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from profiler.gate.compare import compare
from profiler.gate.settings import GateSettings
from profiler.gate.stats import summarize
from profiler.gate.summary import Side, Testbed

DEFAULT_SAMPLES = 300   # per side after warm-up: a 6-minute recording at 1 Hz
DEFAULT_PHI = 0.8       # lag-1 autocorrelation, tau = 9 samples
DEFAULT_CV = 0.05       # sample sd / mean


def ar1(rng: np.random.Generator, trials: int, n: int, mu: float, cv: float,
        phi: float) -> np.ndarray:
    """trials x n stationary AR(1) series with mean mu and marginal sd cv * mu."""
    sd = cv * mu
    eps = rng.normal(0.0, sd * math.sqrt(1.0 - phi * phi), (trials, n))
    x = np.empty_like(eps)
    x[:, 0] = rng.normal(0.0, sd, trials)
    for t in range(1, n):  # over time steps, vectorized over trials
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    return mu + x


@dataclass(frozen=True, slots=True)
class Rates:
    trials: int
    regression: float     # share of trials the gate called a regression
    inconclusive: float


def _side(values: np.ndarray, settings: GateSettings) -> Side:
    stats = summarize(values, max_blocks=settings.max_blocks)
    return Side("sim", (), Testbed((), 1, 1), {"gpu_busy": {"gpu.sm_active": stats}}, (), 0)


def error_rate(trials: int, *, drop: float, n: int = DEFAULT_SAMPLES, cv: float = DEFAULT_CV,
               phi: float = DEFAULT_PHI, seed: int = 0,
               settings: GateSettings | None = None) -> Rates:
    """Share of `trials` baseline/candidate pairs the gate flags when the candidate's mean is
    lower by `drop` (0: same distribution, the false-positive rate; > 0: the power)."""
    settings = settings or GateSettings()
    rng = np.random.default_rng(seed)
    base = ar1(rng, trials, n, 1.0, cv, phi)
    cand = ar1(rng, trials, n, 1.0 - drop, cv, phi)
    regressions = inconclusive = 0
    for i in range(trials):
        result = compare(_side(base[i], settings), _side(cand[i], settings), settings)
        regressions += result.count("regression")
        inconclusive += result.count("inconclusive")
    return Rates(trials, regressions / trials, inconclusive / trials)
