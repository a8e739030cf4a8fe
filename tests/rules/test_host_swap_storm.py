"""host-swap-storm on generated traces."""

from __future__ import annotations

import pytest

from tests.rules.generators import run, swap_storm

SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", (0.15, 0.4))
def test_fires_with_the_simulated_loss(seed: int, idle_level: float) -> None:
    scenario = swap_storm(seed, idle_level)
    found = run(scenario.trace(), "host-swap-storm")
    assert len(found) == 1
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", (0.15, 0.4))
def test_silent_when_swapping_while_gpus_work(seed: int, idle_level: float) -> None:
    assert run(swap_storm(seed, idle_level, aligned=False).trace(), "host-swap-storm") == []
