"""data-starved-cpu on generated traces: one core pegged in every bin, or CPUs hovering at their
limit when steps are too short for the sampling to time."""

from __future__ import annotations

import pytest

from tests.rules.generators import cpu_hovering, cpu_starved, run

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


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", [0.3, 0.5])
@pytest.mark.parametrize("pegged_core", [False, True])
def test_cpus_at_their_limit_on_average_take_untimed_waiting(seed: int, idle_level: float,
                                                           pegged_core: bool) -> None:
    """All CPUs hover at their limit (hot in ~75 % of bins, troughs unrelated to the waits)."""
    scenario = cpu_hovering(seed, idle_level, pegged_core=pegged_core)
    found = run(scenario.trace(), "data-starved-cpu")
    assert len(found) == 1
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cpu_level", [0.6, 0.8])
def test_silent_when_busy_cpus_stay_below_their_limit(seed: int, cpu_level: float) -> None:
    scenario = cpu_hovering(seed, 0.3, cpu_level=cpu_level)
    assert run(scenario.trace(), "data-starved-cpu") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_silent_when_saturated_cpus_keep_busy_gpus(seed: int) -> None:
    scenario = cpu_hovering(seed, 0.02)
    assert run(scenario.trace(), "data-starved-cpu") == []
