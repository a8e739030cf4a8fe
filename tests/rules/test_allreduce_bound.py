"""allreduce-bound on generated traces: exposed communication on a hot link."""

from __future__ import annotations

import pytest

from tests.rules.generators import allreduce, run

SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", (0.2, 0.35, 0.5))
def test_fires_with_the_simulated_exposed_time(seed: int, level: float) -> None:
    scenario = allreduce(seed, level)
    found = run(scenario.trace(), "allreduce-bound")
    assert len(found) == 1
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)
    assert "NVLink" in found[0].summary


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", (0.2, 0.35, 0.5))
def test_silent_when_gpus_spin_in_nccl_with_quiet_links(seed: int, level: float) -> None:
    """The same util-high/SM-low signature without link traffic: waiting, not bandwidth."""
    assert run(allreduce(seed, level, links_hot=False).trace(), "allreduce-bound") == []


def test_not_checked_without_link_capacity() -> None:
    from profiler.engine import run_rules
    from profiler.features import Features

    scenario = allreduce(0, 0.3)
    scenario.meta_gpus = []
    outcome = run_rules(Features(scenario.trace()), rule_ids=["allreduce-bound"])
    assert "link capacity unknown" in outcome.not_checked[0].reason
