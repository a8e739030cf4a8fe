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


@pytest.mark.parametrize("seed", SEEDS)
def test_one_swapping_node_of_a_fleet_is_named(seed: int) -> None:
    """63 healthy nodes make node1's loss ~1/64 of the fleet's GPU-time, below the 5 % floor;
    the floor applies to the node's own GPU-time, so it is still reported (at its small
    fleet-wide share)."""
    scenario = swap_storm(seed, 0.4, n=200, healthy_hosts=63)
    found = run(scenario.trace(), "host-swap-storm")
    assert len(found) == 1
    assert set(found[0].entities) == {"node1/gpu0", "node1/gpu1"}
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.002, rel=0.05)
    assert found[0].gpu_time_lost < 0.05
