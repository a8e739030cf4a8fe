"""power-capping on generated traces: loss tracks the truth; power near the limit alone is not."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.gpu_generators import (
    clock_gpu,
    counter_tolerance,
    run_rule,
    trace_of,
    true_loss,
    with_power,
)

N = 600
RULE = "power-capping"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("share", [0.05, 0.25, 0.6])
@pytest.mark.parametrize("deficit", [0.05, 0.2, 0.4])
def test_loss_tracks_truth(seed: int, share: float, deficit: float) -> None:
    rng = np.random.default_rng(seed)
    gpus = {"gpu0": with_power(rng, clock_gpu(rng, N, share=share, deficit=deficit, bits=0x4)),
            "gpu1": with_power(rng, clock_gpu(rng, N))}
    out = run_rule(trace_of(gpus), RULE, min_active_share=0.03)
    assert [f.entities for f in out.findings] == [("node1/gpu0",)]
    assert out.findings[0].gpu_time_lost == pytest.approx(true_loss(gpus, N)["node1/gpu0"])
    assert " W," in out.findings[0].summary


@pytest.mark.parametrize("seed", range(5))
def test_counter_loss_within_sampling_error(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    gpu = clock_gpu(rng, 2 * N, share=float(rng.uniform(0.2, 0.6)),
                    deficit=float(rng.uniform(0.1, 0.4)), counter="gpu.throttle.power_cap")
    gpus = {"gpu0": gpu}
    out = run_rule(trace_of(gpus), RULE)
    tol = counter_tolerance(gpu.metrics["gpu.throttle.power_cap"])
    assert out.findings[0].gpu_time_lost == pytest.approx(true_loss(gpus, 2 * N)["node1/gpu0"],
                                                          rel=tol)


@pytest.mark.parametrize("seed", range(6))
def test_power_near_limit_without_cap_bit_never_fires(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    gpus = {f"gpu{i}": with_power(rng, clock_gpu(rng, N), near_limit_everywhere=True)
            for i in range(4)}
    assert run_rule(trace_of(gpus), RULE).findings == ()


@pytest.mark.parametrize("seed", range(6))
def test_multi_gpu_names_exactly_the_capped(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    capped = set(rng.choice(8, size=int(rng.integers(1, 8)), replace=False).tolist())
    gpus = {f"gpu{i}": with_power(rng, clock_gpu(rng, N, share=float(rng.uniform(0.1, 0.9)),
                                                 deficit=float(rng.uniform(0.05, 0.4)),
                                                 bits=0x4) if i in capped
                                  else clock_gpu(rng, N))
            for i in range(8)}
    out = run_rule(trace_of(gpus), RULE)
    assert {e for f in out.findings for e in f.entities} == {f"node1/gpu{i}" for i in capped}
    truth = true_loss(gpus, N)
    assert sum(f.gpu_time_lost or 0 for f in out.findings) == pytest.approx(sum(truth.values()))
