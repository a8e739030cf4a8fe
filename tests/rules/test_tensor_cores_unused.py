"""tensor-cores-unused on generated traces: share of busy time and severity track the truth."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.gpu_generators import pipes_gpu, run_rule, trace_of

N = 400
RULE = "tensor-cores-unused"


def _share(finding) -> float:  # type: ignore[no-untyped-def]
    return next(e.observed for e in finding.evidence
                if e.metric == "gpu.tensor_active" and "share" in e.note)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fp32_share", [0.0, 0.1, 0.3, 0.6, 1.0])
def test_share_and_severity_track_truth(seed: int, fp32_share: float) -> None:
    rng = np.random.default_rng(seed)
    gpus = {"gpu0": pipes_gpu(rng, N, fp32_share=fp32_share,
                              memory_share=float(rng.uniform(0, 1 - fp32_share)))}
    out = run_rule(trace_of(gpus), RULE)
    if fp32_share < 0.25:
        assert out.findings == ()
        return
    (finding,) = out.findings
    assert finding.entities == ("node1/gpu0",)
    assert finding.gpu_time_lost is None
    assert _share(finding) == pytest.approx(fp32_share, abs=0.01)
    assert finding.severity == ("warning" if fp32_share >= 0.5 else "info")


@pytest.mark.parametrize("seed", range(5))
def test_multi_gpu_names_exactly_the_fp32_ones(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    fp32 = set(rng.choice(8, size=int(rng.integers(0, 8)), replace=False).tolist())
    gpus = {f"gpu{i}": pipes_gpu(rng, N, fp32_share=0.8 if i in fp32 else 0.05)
            for i in range(8)}
    out = run_rule(trace_of(gpus), RULE)
    assert {e for f in out.findings for e in f.entities} == {f"node1/gpu{i}" for i in fp32}


@pytest.mark.parametrize("seed", range(5))
def test_memory_bound_gpu_is_not_told_to_use_tensor_cores(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    gpus = {"gpu0": pipes_gpu(rng, N, memory_share=0.9)}
    assert run_rule(trace_of(gpus), RULE).findings == ()
    assert run_rule(trace_of(gpus), "memory-bandwidth-bound").findings != ()


@pytest.mark.parametrize("seed", range(3))
def test_default_exporter_fields_infer_fp_work_from_quiet_dram(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    gpu = pipes_gpu(rng, N, fp32_share=0.7)
    for name in ("gpu.sm_active", "gpu.fp16_active", "gpu.fp32_active"):
        del gpu.metrics[name]
    gpu.metrics["gpu.gr_engine_active"] = gpu.metrics.pop("gpu.util")
    (finding,) = run_rule(trace_of({"gpu0": gpu}), RULE).findings
    assert _share(finding) == pytest.approx(0.7, abs=0.01)
    assert finding.notes
