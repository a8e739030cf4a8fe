"""The vectorized numerical kernels agree with their obvious (looped) definitions."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.simulate.capacity import NVLINK_BPS, transfer
from profiler.simulate.hardware import (
    POWER_CAP_MARGIN,
    POWER_GAMMA,
    clamped_first_order,
    dynamic_power,
    first_order,
    power_cap_clock,
    static_power,
)
from profiler.simulate.integrate import Episodes, Grid, Piecewise
from profiler.simulate.params import BF16_TRAINING, Setup


def _lag_loop(u: np.ndarray, y0: float, a: float, ceiling: float = np.inf) -> np.ndarray:
    y = [y0]
    for x in u:
        y.append(min(ceiling, a * y[-1] + (1 - a) * x))
    return np.array(y)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.978, 0.9989])
def test_first_order_matches_the_recursion(alpha: float) -> None:
    rng = np.random.default_rng(1)
    u = rng.uniform(30, 100, 5000)
    fast = first_order(u[None, :], np.array([40.0]), alpha)[0]
    np.testing.assert_allclose(fast, _lag_loop(u, 40.0, alpha), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 0.978, 0.9989])
def test_clamped_lag_matches_the_recursion_with_a_ceiling(alpha: float) -> None:
    rng = np.random.default_rng(2)
    u = np.repeat(rng.uniform(30, 120, 200), 20)
    free = first_order(u[None, :], np.array([95.0]), alpha)
    held = clamped_first_order(free, np.array([87.5]), alpha)[0]
    np.testing.assert_allclose(held, _lag_loop(u, 87.5, alpha, 87.5), atol=1e-8)


def test_piecewise_mean_is_the_interval_average() -> None:
    rng = np.random.default_rng(3)
    starts = np.concatenate([[-0.3], np.cumsum(rng.uniform(0.001, 0.4, 400))])
    values = rng.uniform(0, 1, len(starts))
    grid = Grid(0.25, 200)
    fine = np.arange(0, grid.duration_s, 1e-4) + 5e-5
    signal = values[np.searchsorted(starts, fine, side="right") - 1]
    brute = signal.reshape(grid.n, -1).mean(axis=1)
    np.testing.assert_allclose(Piecewise(starts, grid).mean(values), brute, atol=2e-3)


def test_episodes_merge_and_cover() -> None:
    ep = Episodes.merged(np.array([5.0, 1.0, 2.0, 10.0]), np.array([6.0, 3.0, 2.5, 10.5]))
    np.testing.assert_array_equal(ep.starts, [1.0, 5.0, 10.0])
    np.testing.assert_array_equal(ep.ends, [3.0, 6.0, 10.5])
    grid = Grid(2.0, 6)
    np.testing.assert_allclose(ep.share(grid), [0.5, 0.5, 0.5, 0.0, 0.0, 0.25])
    np.testing.assert_array_equal(ep.active(np.array([0.5, 1.0, 2.9, 3.0, 10.2])),
                                  [False, True, True, False, True])


def test_ring_allreduce_moves_2_n_minus_1_over_n_of_the_gradients() -> None:
    one = transfer(Setup.healthy(1, 8))
    assert one.ring_bytes == pytest.approx(2 * 7 / 8 * 2.6e9)
    assert one.nvlink_bytes == one.ring_bytes and one.ib_bytes == 0
    assert one.seconds == pytest.approx(one.ring_bytes / NVLINK_BPS, rel=0.05)
    two = transfer(Setup.healthy(2, 8))
    assert two.ring_bytes == pytest.approx(2 * 15 / 16 * 2.6e9)
    assert two.ib_bytes == pytest.approx(two.ring_bytes)
    assert two.nvlink_bytes == pytest.approx(two.ring_bytes * 7 / 8)
    assert transfer(Setup.healthy(1, 1)).ring_bytes == 0


def test_power_cap_clock_brings_power_to_the_limit() -> None:
    mix = BF16_TRAINING
    assert power_cap_clock(mix, 700.0) == 1.0
    f = power_cap_clock(mix, 450.0)
    assert 0.7 < f < 0.95
    power = static_power(mix) + dynamic_power(mix) * f**POWER_GAMMA
    assert power == pytest.approx(450.0 * POWER_CAP_MARGIN, rel=1e-6)
