"""data-starved: fires on an unexplained step pattern, and stays out of explained ones."""

from __future__ import annotations

import pytest

from profiler.trace import Trace
from tests.rules.generators import cpu_starved, run, storage_starved, stuck_gpus

SEEDS = range(4)


def _gpu_only(trace_series: dict[str, dict[str, list[float]]]) -> Trace:
    return Trace.from_series({k: v for k, v in trace_series.items() if "/gpu" in k})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("idle_level", (0.15, 0.3, 0.5))
def test_fires_without_host_metrics_and_says_so(seed: int, idle_level: float) -> None:
    scenario = storage_starved(seed, idle_level)
    found = run(_gpu_only(scenario.series), "data-starved")
    assert len(found) == 1
    # without a cause to time, all waiting in the job window is the loss
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.02, rel=0.05)
    assert "no disk, CPU or memory metrics" in found[0].summary


@pytest.mark.parametrize("seed", SEEDS)
def test_explained_by_storage_or_cpu_is_left_to_those_rules(seed: int) -> None:
    assert run(storage_starved(seed, 0.3).trace(), "data-starved") == []
    assert run(cpu_starved(seed, 0.3).trace(), "data-starved") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_unremarkable_host_metrics_are_reported_as_such(seed: int) -> None:
    """Storage saturates only while GPUs work: present but not the cause."""
    found = run(storage_starved(seed, 0.3, aligned=False).trace(), "data-starved")
    assert len(found) == 1
    assert "host metrics present" in found[0].summary


@pytest.mark.parametrize("seed", SEEDS)
def test_stuck_gpus_are_not_a_step_pattern(seed: int) -> None:
    assert run(stuck_gpus(seed).trace(), "data-starved") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_core_pegged_throughout_is_named_but_not_blamed(seed: int) -> None:
    """The CPUs saturate at other times; the busiest core is pegged in every bin."""
    found = run(cpu_starved(seed, 0.3, aligned=False).trace(), "data-starved")
    assert len(found) == 1
    assert "no host metric lines up with the waits" in found[0].summary
    assert "the busiest core 99 % busy throughout" in found[0].summary
    assert run(storage_starved(seed, 0.3, aligned=False).trace(), "data-starved")[0].summary \
        .count("throughout") == 0
