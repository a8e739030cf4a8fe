"""hardware-slowdown on generated traces: brake and HW-slowdown loss, thermal causes excluded."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.gpu_generators import clock_gpu, run_rule, trace_of, true_loss

N = 600
RULE = "hardware-slowdown"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bits", [0x8, 0x80, 0x88])
@pytest.mark.parametrize("share", [0.05, 0.3])
def test_loss_tracks_truth(seed: int, bits: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    deficit = float(rng.uniform(0.5, 0.75))  # HW slowdown cuts clocks by half or more
    gpus = {"gpu0": clock_gpu(rng, N), "gpu1": clock_gpu(rng, N, share=share, deficit=deficit,
                                                          bits=bits, temp_state=60.0)}
    out = run_rule(trace_of(gpus), RULE, min_active_share=0.03)
    assert [f.entities for f in out.findings] == [("node1/gpu1",)]
    assert out.findings[0].gpu_time_lost == pytest.approx(true_loss(gpus, N)["node1/gpu1"])
    assert ("power brake" in out.findings[0].summary) == bool(bits & 0x80)


@pytest.mark.parametrize("seed", range(5))
def test_power_brake_counter(seed: int) -> None:
    rng = np.random.default_rng(40 + seed)
    gpus = {"gpu0": clock_gpu(rng, 2 * N, share=0.4, deficit=0.5, temp_state=55.0,
                              counter="gpu.throttle.power_brake")}
    out = run_rule(trace_of(gpus), RULE)
    assert out.findings[0].gpu_time_lost == pytest.approx(true_loss(gpus, 2 * N)["node1/gpu0"],
                                                          rel=0.2)
    assert "power brake" in out.findings[0].summary


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bits", [0x8 | 0x40, 0x8 | 0x20])
def test_thermal_hw_slowdown_is_not_this_rule(seed: int, bits: int) -> None:
    rng = np.random.default_rng(80 + seed)
    gpus = {"gpu0": clock_gpu(rng, N, share=0.4, deficit=0.5, bits=bits, temp_state=91.0)}
    trace = trace_of(gpus)
    assert run_rule(trace, RULE).findings == ()
    thermal = run_rule(trace, "thermal-throttling").findings
    assert thermal[0].gpu_time_lost == pytest.approx(true_loss(gpus, N)["node1/gpu0"])


@pytest.mark.parametrize("seed", range(5))
def test_hw_slowdown_at_thermal_limits_is_not_this_rule(seed: int) -> None:
    rng = np.random.default_rng(120 + seed)
    gpus = {"gpu0": clock_gpu(rng, N, share=0.4, deficit=0.5, bits=0x8,
                              temp_state=float(rng.uniform(87, 95)))}
    assert run_rule(trace_of(gpus), RULE).findings == ()
