"""pcie-link-degraded on generated traces: idle downtraining never fires, busy degradation does."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.catalog import pcie_bandwidth
from tests.rules.gpu_generators import pcie_gpu, run_rule, trace_of

N = 600
RULE = "pcie-link-degraded"


@pytest.mark.parametrize("seed", range(8))
def test_idle_downtraining_with_sampling_lag_never_fires(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gpus = {f"gpu{i}": pcie_gpu(rng, N, busy_share=float(rng.uniform(0.1, 0.9)),
                                lag=int(rng.integers(0, 3))) for i in range(4)}
    assert run_rule(trace_of(gpus), RULE).findings == ()


@pytest.mark.parametrize("seed", range(8))
def test_multi_gpu_names_exactly_the_degraded(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    bad = set(rng.choice(8, size=int(rng.integers(1, 4)), replace=False).tolist())
    links = {i: (int(rng.choice([3, 4])), int(rng.choice([4, 8, 16]))) for i in bad}
    links = {i: (g, w) if (g, w) != (4, 16) else (3, 16) for i, (g, w) in links.items()}
    gpus = {f"gpu{i}": pcie_gpu(rng, N, gen=links[i][0], width=links[i][1],
                                busy_share=float(rng.uniform(0.2, 0.9)))
            if i in bad else pcie_gpu(rng, N) for i in range(8)}
    out = run_rule(trace_of(gpus), RULE)
    assert {f.entities[0] for f in out.findings} == {f"node1/gpu{i}" for i in bad}
    for f in out.findings:
        g, w = links[int(f.entities[0].removeprefix("node1/gpu"))]
        assert f"Gen{g} x{w}" in f.summary
        assert f.severity == "warning" and f.gpu_time_lost is None
        lost = next(e.observed for e in f.evidence if e.unit == "bytes/s")
        assert lost == pytest.approx(pcie_bandwidth(4, 16) - pcie_bandwidth(g, w))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("saturated_share", [0.2, 0.5, 1.0])
def test_saturated_degraded_link_costs_time(seed: int, saturated_share: float) -> None:
    rng = np.random.default_rng(200 + seed)
    gpu = pcie_gpu(rng, N, gen=3, busy_share=0.8, lag=0)
    busy = gpu.metrics["gpu.util"] > 0
    saturated = busy & (rng.random(N) < saturated_share)
    link = pcie_bandwidth(3, 16)
    gpu.metrics["gpu.pcie_rx"] = np.where(saturated, link * rng.uniform(0.8, 1.0, N),
                                          link * rng.uniform(0.0, 0.5, N) * busy)
    gpu.metrics["gpu.pcie_tx"] = np.full(N, 1e8)
    (finding,) = run_rule(trace_of({"gpu0": gpu}), RULE).findings
    truth = saturated.sum() * (1 - link / pcie_bandwidth(4, 16)) / N
    if truth >= 0.05:
        assert finding.gpu_time_lost == pytest.approx(truth)
    else:
        assert finding.gpu_time_lost is None and finding.severity == "warning"
