"""data-starved-storage on generated step-pattern traces: blame follows timing, not presence."""

from __future__ import annotations

import pytest

from profiler.trace import Trace
from tests.rules.generators import run, serious, storage_starved

LEVELS = (0.15, 0.3, 0.5)
SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", LEVELS)
def test_fires_with_the_simulated_loss(seed: int, idle_level: float) -> None:
    scenario = storage_starved(seed, idle_level)
    found = run(scenario.trace(), "data-starved-storage")
    assert len(found) == 1
    finding = found[0]
    assert finding.gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)
    assert set(scenario.affected) <= set(finding.entities)
    assert "node1/nvme0n1" in finding.entities


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", LEVELS)
def test_silent_when_the_same_saturation_falls_on_busy_bins(seed: int, idle_level: float) -> None:
    scenario = storage_starved(seed, idle_level, aligned=False)
    assert run(scenario.trace(), "data-starved-storage") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_names_only_the_starved_host(seed: int) -> None:
    starved = storage_starved(seed, 0.3, host="node1", n_gpus=2)
    calm = storage_starved(seed + 100, 0.3, host="node2", n_gpus=2, aligned=False)
    trace = Trace.concat([starved.trace(), calm.trace()])
    found = run(trace, "data-starved-storage")
    assert len(found) == 1
    assert all(e.startswith("node1/") for e in found[0].entities)
    assert found[0].gpu_time_lost == pytest.approx(starved.true_loss / 2, abs=0.01, rel=0.05)


@pytest.mark.parametrize("seed", SEEDS)
def test_startup_read_burst_is_not_starvation(seed: int) -> None:
    scenario = storage_starved(seed, 0.3, aligned=False)
    n = len(scenario.series["node1/gpu0"]["gpu.util"])
    head = n // 5
    for g in scenario.affected:
        scenario.series[g]["gpu.util"][:head] = [0.0] * head
    scenario.series["node1/nvme0n1"]["disk.busy"][:head] = [1.0] * head
    scenario.series["node1/nvme0n1"]["disk.read"][:head] = [6e8] * head
    assert serious(run(scenario.trace(), "data-starved-storage")) == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", (0.2, 0.4))
def test_robust_to_sampler_skew_partial_blame_and_random_dips(seed: int,
                                                              idle_level: float) -> None:
    """Storage causes 80 % of the waits, host samples lag by a bin, busy bins dip at random:
    still found, with the loss within the part the timing can see (skew hides gap edges)."""
    scenario = storage_starved(seed, idle_level, coverage=0.8, skew=1, dips=0.1)
    found = run(scenario.trace(), "data-starved-storage")
    assert len(found) == 1
    assert 0.5 * scenario.true_loss <= (found[0].gpu_time_lost or 0) <= 1.1 * scenario.true_loss
