"""pcie-bound on generated traces: copies that stall the SMs, not copies that overlap."""

from __future__ import annotations

import pytest

from tests.rules.generators import pcie_copies, run

SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", (0.15, 0.3, 0.5))
def test_fires_with_the_simulated_loss(seed: int, level: float) -> None:
    scenario = pcie_copies(seed, level)
    found = run(scenario.trace(), "pcie-bound")
    assert len(found) == 1
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)
    assert sorted(found[0].entities) == sorted(scenario.affected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", (0.15, 0.3, 0.5))
def test_silent_when_the_link_is_busy_while_sms_work(seed: int, level: float) -> None:
    assert run(pcie_copies(seed, level, aligned=False).trace(), "pcie-bound") == []


def test_gen_and_width_that_drop_at_idle_do_not_shrink_the_link() -> None:
    """NVML reports Gen1 x16 at idle; the trained link is the fastest it reached."""
    scenario = pcie_copies(0, 0.3)
    for g in scenario.affected:
        gen = scenario.series[g]["gpu.pcie_gen"]
        scenario.series[g]["gpu.pcie_gen"] = [1.0 if i % 7 == 0 else v for i, v in enumerate(gen)]
    found = run(scenario.trace(), "pcie-bound")
    assert found[0].gpu_time_lost == pytest.approx(scenario.true_loss, abs=0.01, rel=0.05)
