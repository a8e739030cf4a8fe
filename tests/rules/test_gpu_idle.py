"""gpu-idle on generated traces: hung GPUs named, loss = their held-and-idle time."""

from __future__ import annotations

import pytest

from tests.rules.generators import run, stuck_gpus

SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_names_the_hung_gpus_with_their_idle_time(seed: int) -> None:
    scenario = stuck_gpus(seed)
    found = run(scenario.trace(), "gpu-idle")
    assert len(found) == 1
    assert sorted(found[0].entities) == sorted(scenario.affected)
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.005)


@pytest.mark.parametrize("seed", SEEDS)
def test_released_memory_means_free_not_held(seed: int) -> None:
    scenario = stuck_gpus(seed)
    for g in scenario.affected:
        util = scenario.series[g]["gpu.util"]
        scenario.series[g]["gpu.fb_used"] = [4e10 if u > 0 else 0.0 for u in util]
    assert run(scenario.trace(), "gpu-idle") == []
