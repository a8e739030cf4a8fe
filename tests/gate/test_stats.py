"""The gate's statistics: t distribution, block means, Welch test, and its error rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from profiler.gate.calibration import ar1, error_rate
from profiler.gate.stats import (
    SeriesStats,
    block_inflation,
    lag1,
    summarize,
    t_ppf,
    t_sf,
    tau_of,
    welch,
)


@pytest.mark.parametrize(("t", "df", "expected"), [
    pytest.param(0.0, 5.0, 0.5, id="centre"),
    pytest.param(1.0, 1.0, 0.25, id="cauchy"),               # atan(1)/pi from the top
    pytest.param(2.0, 2.0, 0.5 - 1 / math.sqrt(6), id="df2"),  # closed form for df = 2
    pytest.param(-2.0, 2.0, 0.5 + 1 / math.sqrt(6), id="df2-negative"),
])
def test_t_tail_matches_closed_forms(t: float, df: float, expected: float) -> None:
    assert t_sf(t, df) == pytest.approx(expected, rel=1e-10)


def test_t_tail_tends_to_the_normal_tail() -> None:
    normal = 0.5 * math.erfc(2.326347874 / math.sqrt(2))  # z of the 0.99 quantile
    assert t_sf(2.326347874, 1e6) == pytest.approx(normal, rel=1e-4)
    assert normal == pytest.approx(0.01, rel=1e-6)


@pytest.mark.parametrize("df", [2.0, 9.5, 18.0, 200.0])
def test_t_quantile_inverts_the_tail(df: float) -> None:
    for q in (0.9, 0.99, 0.995):
        assert 1 - t_sf(t_ppf(q, df), df) == pytest.approx(q, abs=1e-9)
    assert t_ppf(0.99, 18.0) == pytest.approx(2.552, abs=1e-3)  # printed tables


def test_lag1_of_white_noise_and_ar1() -> None:
    rng = np.random.default_rng(3)
    assert abs(lag1(rng.normal(size=20_000))) < 0.03
    series = ar1(rng, 1, 20_000, 1.0, 0.1, 0.8)[0]
    assert lag1(series) == pytest.approx(0.8, abs=0.02)
    assert lag1(np.ones(10)) == 0.0


def test_tau_is_bias_corrected_and_clipped() -> None:
    assert tau_of(0.0, 300) > 1.0                      # +1/n: never exactly independent
    assert tau_of(0.8, 10**9) == pytest.approx(9.0)    # (1 + r) / (1 - r)
    assert tau_of(0.8, 300) > 9.0                      # short runs: r is biased low
    assert tau_of(1.0, 300) == pytest.approx(199.0)    # r clipped at 0.99
    assert tau_of(-0.5, 300) == 1.0                    # negative r: clipped to 0


def test_blocks_span_at_least_two_tau() -> None:
    rng = np.random.default_rng(5)
    series = ar1(rng, 1, 300, 1.0, 0.05, 0.8)[0]
    stats = summarize(series)
    block = stats.n // len(stats.blocks)
    assert len(stats.blocks) <= 10
    assert block >= math.ceil(2 * stats.tau)
    assert stats.mean == pytest.approx(series.mean())
    assert np.mean(stats.blocks) == pytest.approx(series[: block * len(stats.blocks)].mean())


def test_strong_autocorrelation_gives_few_blocks() -> None:
    rng = np.random.default_rng(6)
    series = ar1(rng, 1, 120, 1.0, 0.05, 0.95)[0]
    assert len(summarize(series).blocks) < 6


def test_independent_values_are_their_own_blocks() -> None:
    stats = summarize(np.array([0.1, 0.2, np.nan, 0.3]), independent=True)
    assert stats.blocks == (0.1, 0.2, 0.3)
    assert stats.n == 3
    assert block_inflation(stats) == 1.0


def test_block_inflation_matches_the_ar1_formula() -> None:
    # phi 0.8 (n large so the bias correction vanishes), 10 blocks of 30: rho = 0.0867.
    stats = SeriesStats(n=300_000, mean=1.0, lag1=0.8, tau=9.0, blocks=(1.0,) * 10)
    m = 30_000
    rho = 0.8 * (1 - 0.8**m) ** 2 / (m * 0.04 * (9 - 2 * 0.8 / (m * 0.04)))
    expected = (1 + 2 * rho * 0.9) / (1 - 2 * rho / 10)
    assert block_inflation(stats) == pytest.approx(expected, rel=1e-6)
    short = SeriesStats(n=300, mean=1.0, lag1=0.8, tau=9.0, blocks=(1.0,) * 10)
    assert 1.1 < block_inflation(short) < 1.3


def test_welch_by_hand() -> None:
    base = (10.0, 11.0, 12.0, 11.0, 10.0, 12.0)
    cand = (9.0, 10.0, 9.5, 10.5, 9.0, 10.0)
    va, vb = np.var(base, ddof=1), np.var(cand, ddof=1)
    se = math.sqrt(va / 6 + vb / 6)
    diff = np.mean(cand) - np.mean(base)
    df = (va / 6 + vb / 6) ** 2 / ((va / 6) ** 2 / 5 + (vb / 6) ** 2 / 5)
    test = welch(base, cand, "higher", 0.01)
    assert test.diff == pytest.approx(diff)
    assert test.df == pytest.approx(df)
    assert test.p_worse == pytest.approx(t_sf(-diff / se, df))
    assert test.p_worse < 0.01
    assert test.ci_high < 0                       # the 98 % interval excludes no change
    assert welch(base, cand, "lower", 0.01).p_worse > 0.99


def test_welch_with_identical_constant_sides() -> None:
    test = welch((1.0,) * 6, (1.0,) * 6, "higher", 0.01)
    assert test.p_worse == 1.0 and test.diff == 0.0


# --- error rates: the acceptance numbers, seeded -----------------------------------------

def test_false_positive_rate_on_same_distribution_runs_is_at_most_one_percent() -> None:
    rates = error_rate(3000, drop=0.0, seed=11)
    assert rates.regression <= 0.01
    assert rates.inconclusive == 0.0


def test_power_on_a_ten_percent_regression_is_at_least_ninety_percent() -> None:
    rates = error_rate(1000, drop=0.10, seed=12)
    assert rates.regression >= 0.90


def test_significance_alone_holds_its_level_on_noisy_series() -> None:
    """Without the block corrections a naive test fires on ~50 % of these; ours stays near
    its alpha of 1 % even when the practical floor cannot help (10 % noise)."""
    from dataclasses import replace

    from profiler.gate.settings import GateSettings

    no_floor = replace(GateSettings(), thresholds={"gpu_busy": 0.0})
    rates = error_rate(3000, drop=0.0, cv=0.10, seed=13, settings=no_floor)
    assert rates.regression <= 0.016
