"""Healthy runs and look-alikes give no warning or critical finding from any rule."""

from __future__ import annotations

import pytest

from profiler.trace import Trace
from tests.rules.generators import healthy_with_checkpoints, run, serious, storage_starved

SEEDS = range(5)


@pytest.mark.parametrize("seed", SEEDS)
def test_periodic_checkpoints_are_at_most_info(seed: int) -> None:
    scenario = healthy_with_checkpoints(seed)
    assert scenario.true_loss < 0.05  # the simulation's own cost of checkpointing
    assert serious(run(scenario.trace())) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_busy_disk_and_pegged_cpus_with_busy_gpus(seed: int) -> None:
    scenario = storage_starved(seed, 0.0)
    n = len(scenario.series["node1/gpu0"]["gpu.util"])
    scenario.series["node1/nvme0n1"]["disk.busy"] = [1.0] * n
    scenario.series["node1/nvme0n1"]["disk.read"] = [8e8] * n
    scenario.series["node1/host"]["host.cpu.user"] = [0.96] * n
    scenario.series["node1/host"]["host.psi.io_some"] = [0.5] * n
    assert serious(run(scenario.trace())) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_startup_and_teardown_idle_are_not_blamed(seed: int) -> None:
    scenario = healthy_with_checkpoints(seed)
    series = scenario.series
    n = len(series["node1/gpu0"]["gpu.util"])
    head, tail = n // 6, n // 10
    for g in scenario.affected:
        series[g]["gpu.util"][:head] = [0.0] * head
        series[g]["gpu.util"][-tail:] = [0.0] * tail
    series["node1/nvme0n1"]["disk.busy"][:head] = [1.0] * head
    series["node1/nvme0n1"]["disk.read"][:head] = [7e8] * head
    series["node1/host"]["host.cpu.user"][:head] = [0.97] * head
    assert serious(run(Trace.from_series(series))) == []
