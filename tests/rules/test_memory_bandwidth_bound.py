"""memory-bandwidth-bound on generated traces: share of busy time and severity track the truth."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.gpu_generators import pipes_gpu, run_rule, trace_of

N = 400
RULE = "memory-bandwidth-bound"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("memory_share", [0.0, 0.1, 0.3, 0.6, 1.0])
def test_share_and_severity_track_truth(seed: int, memory_share: float) -> None:
    rng = np.random.default_rng(seed)
    gpus = {"gpu0": pipes_gpu(rng, N, memory_share=memory_share,
                              fp32_share=float(rng.uniform(0, 1 - memory_share)),
                              idle_share=float(rng.uniform(0, 0.5)))}
    out = run_rule(trace_of(gpus), RULE)
    if memory_share < 0.25:
        assert out.findings == ()
        return
    (finding,) = out.findings
    share = next(e.observed for e in finding.evidence if "share" in e.note)
    assert share == pytest.approx(memory_share, abs=0.01)
    assert finding.severity == ("warning" if memory_share >= 0.5 else "info")
    assert finding.gpu_time_lost is None


@pytest.mark.parametrize("seed", range(5))
def test_multi_gpu_names_exactly_the_memory_bound(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    bound = set(rng.choice(8, size=int(rng.integers(0, 8)), replace=False).tolist())
    gpus = {f"gpu{i}": pipes_gpu(rng, N, memory_share=0.7 if i in bound else 0.1)
            for i in range(8)}
    out = run_rule(trace_of(gpus), RULE)
    assert {e for f in out.findings for e in f.entities} == {f"node1/gpu{i}" for i in bound}


@pytest.mark.parametrize("seed", range(4))
def test_tensor_heavy_training_is_not_memory_bound(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    assert run_rule(trace_of({"gpu0": pipes_gpu(rng, N)}), RULE).findings == ()
