"""The gate's statistics: block means of an autocorrelated series and a one-sided Welch t-test.

Samples of one recording are autocorrelated (GPU activity, step time and throughput drift with
data-loader queues, clocks and heat), so a test on raw samples fires on identical runs about
half the time. Each side is reduced to at most `max_blocks` consecutive block means, every
block at least 2 tau samples long, where tau is the AR(1) integrated autocorrelation time from
the (bias-corrected) lag-1 autocorrelation. Block means are close to independent and normal, so
a Welch t-test on them holds its level. Method and simulations: ../shared/reference/ci-gate.md;
measured error rates: bench/gate_error_rates.py.

Stdlib maths only (no scipy): the Student t tail comes from the regularized incomplete beta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Direction = Literal["higher", "lower"]  # which way is better
MAX_R = 0.99


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, c = 1e-300, 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for aa in (m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m)),
                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 3e-16:
            break
    return h


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with (possibly fractional) `df` > 0."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    x = df / (df + t * t)
    if x >= 1.0:
        return 0.5
    a, b = df / 2.0, 0.5
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        ib = front * _betacf(a, b, x) / a
    else:
        ib = 1.0 - front * _betacf(b, a, 1.0 - x) / b
    return 0.5 * ib if t > 0 else 1.0 - 0.5 * ib


def t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t (0 < q < 1), by bisection on t_sf."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), not {q}")
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if 1.0 - t_sf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def lag1(x: np.ndarray) -> float:
    """Lag-1 autocorrelation (0 for a constant or too short series)."""
    if len(x) < 3:
        return 0.0
    d = x - x.mean()
    den = float(np.dot(d, d))
    return float(np.dot(d[:-1], d[1:]) / den) if den > 0 else 0.0


def corrected_r(r: float, n: int) -> float:
    """Lag-1 autocorrelation with Kendall's bias correction (+(1 + 4r)/n), clipped to [0, 0.99].

    The sample estimate is biased low on short runs; uncorrected, short runs get blocks that
    are too short and the test fires too often (see the bench)."""
    corrected = r + (1.0 + 4.0 * max(r, 0.0)) / n if n > 0 else r
    return min(MAX_R, max(0.0, corrected))


def tau_of(r: float, n: int) -> float:
    """AR(1) integrated autocorrelation time (1 + r) / (1 - r) from a lag-1 estimate `r`."""
    rc = corrected_r(r, n)
    return (1.0 + rc) / (1.0 - rc)


def block_inflation(stats: SeriesStats) -> float:
    """How much the naive variance of the mean of `stats.blocks` understates the true one.

    Adjacent block means of an AR(1) series with coefficient phi and block length m still
    correlate by rho = phi (1 - phi^m)^2 / (m (1 - phi)^2 w), w = (1 + phi)/(1 - phi)
    - 2 phi (1 - phi^m) / (m (1 - phi)^2) (about 0.09 for phi = 0.8, m = 30): enough to push
    a 1 % test to 1.5 %. With B blocks, Var(mean) = v (1 + 2 rho (B - 1) / B) / B while the
    sample variance estimates v (1 - 2 rho / B); the ratio corrects the standard error.
    """
    count = len(stats.blocks)
    if count < 2 or stats.n < 2:
        return 1.0
    phi = corrected_r(stats.lag1, stats.n)
    if phi <= 0.0:
        return 1.0
    m = stats.n // count
    if m <= 1:  # values given as independent blocks
        return 1.0
    tail = 1.0 - phi ** m
    w = (1.0 + phi) / (1.0 - phi) - 2.0 * phi * tail / (m * (1.0 - phi) ** 2)
    rho = phi * tail ** 2 / (m * (1.0 - phi) ** 2 * w) if w > 0 else 0.0
    rho = min(max(rho, 0.0), 0.45)
    return (1.0 + 2.0 * rho * (count - 1) / count) / (1.0 - 2.0 * rho / count)


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """One side's summary of one figure: all the gate needs, small enough to save as JSON."""

    n: int                      # samples after warm-up
    mean: float
    lag1: float
    tau: float
    blocks: tuple[float, ...]   # consecutive block means, each block >= 2 tau samples


def summarize(x: np.ndarray, *, max_blocks: int = 10, independent: bool = False) -> SeriesStats:
    """Reduce a time-ordered series to block means; `independent` values are their own blocks
    (e.g. per-window finding losses, already means of long windows)."""
    x = np.asarray(x, dtype="float64")
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return SeriesStats(0, math.nan, 0.0, 1.0, ())
    if independent:
        return SeriesStats(n, float(x.mean()), lag1(x), 1.0, tuple(float(v) for v in x))
    r = lag1(x)
    tau = tau_of(r, n)
    block = math.ceil(2.0 * tau)
    count = min(max_blocks, n // block)
    if count < 1:
        return SeriesStats(n, float(x.mean()), r, tau, ())
    size = n // count
    means = x[: size * count].reshape(count, size).mean(axis=1)
    return SeriesStats(n, float(x.mean()), r, tau, tuple(float(v) for v in means))


@dataclass(frozen=True, slots=True)
class Welch:
    p_worse: float      # one-sided p-value for "candidate worse than baseline"
    diff: float         # candidate mean of blocks - baseline mean of blocks
    ci_low: float       # two-sided (1 - 2 alpha) interval of diff
    ci_high: float
    df: float


def welch(base: tuple[float, ...], cand: tuple[float, ...], better: Direction,
          alpha: float, inflation: tuple[float, float] = (1.0, 1.0)) -> Welch:
    """One-sided Welch t-test on block means in the "worse" direction, with the matching
    two-sided (1 - 2 alpha) confidence interval of the difference of means. `inflation`
    scales each side's block variance (block_inflation)."""
    a, b = np.asarray(base), np.asarray(cand)
    na, nb = len(a), len(b)
    va = float(a.var(ddof=1)) * inflation[0]
    vb = float(b.var(ddof=1)) * inflation[1]
    diff = float(b.mean() - a.mean())
    se2 = va / na + vb / nb
    worse_sign = -1.0 if better == "higher" else 1.0
    if se2 <= 0.0:
        p = 0.0 if diff * worse_sign > 0 else 1.0
        return Welch(p, diff, diff, diff, math.inf)
    se = math.sqrt(se2)
    df = se2 ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    p = t_sf(worse_sign * diff / se, df)
    half = t_ppf(1.0 - alpha, df) * se
    return Welch(p, diff, diff - half, diff + half, df)
