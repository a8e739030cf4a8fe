"""data-starved-cpu on generated traces where one core is pegged in every bin."""

from __future__ import annotations

import pytest

from tests.rules.generators import cpu_starved, run

LEVELS = (0.15, 0.3, 0.5)
SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", LEVELS)
def test_fires_with_the_simulated_loss(seed: int, idle_level: float) -> None:
    scenario = cpu_starved(seed, idle_level)
    found = run(scenario.trace(), "data-starved-cpu")
    assert len(found) == 1
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)
    assert sorted(found[0].entities) == sorted(scenario.affected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", LEVELS)
def test_silent_when_cpu_peaks_fall_on_busy_bins(seed: int, idle_level: float) -> None:
    """The pegged core is present throughout; the CPU peaks that come and go point away."""
    scenario = cpu_starved(seed, idle_level, aligned=False)
    assert run(scenario.trace(), "data-starved-cpu") == []
