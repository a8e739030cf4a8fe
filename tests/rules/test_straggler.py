"""straggler on generated traces: names exactly the slow GPU, with the peers' waiting."""

from __future__ import annotations

import pytest

from tests.rules.generators import run, straggler

SEEDS = range(5)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("slowdown", (0.6, 0.75, 0.85))
def test_names_the_straggler_with_the_simulated_loss(seed: int, slowdown: float) -> None:
    scenario = straggler(seed, slowdown)
    found = run(scenario.trace(), "straggler")
    assert len(found) == 1
    assert list(found[0].entities) == scenario.affected
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.02, rel=0.1)


@pytest.mark.parametrize("seed", SEEDS)
def test_silent_when_every_gpu_works_alike(seed: int) -> None:
    assert run(straggler(seed, 1.0).trace(), "straggler") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_silent_below_the_waiting_floor(seed: int) -> None:
    """Peers 5 % below the straggler: GPUs of one job differ that much anyway."""
    assert run(straggler(seed, 0.95).trace(), "straggler") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_silent_on_gpus_that_differ_by_a_few_points(seed: int) -> None:
    """Eight GPUs of a step-pattern job, each with its own busy and idle levels (as GPUs of
    one job differ), plus a second host running its own job: no straggler."""
    from profiler.trace import Trace
    from tests.rules.generators import storage_starved

    one = storage_starved(seed, 0.3, n_gpus=8, n=1500)
    two = storage_starved(seed + 50, 0.3, n_gpus=8, n=1500, host="node2", aligned=False)
    assert run(Trace.concat([one.trace(), two.trace()]), "straggler") == []
