"""gpu-memory-pressure on generated traces: the near-full share tracks the truth."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.trace import Trace
from tests.rules.gpu_generators import episodes, run_rule

N = 300
RULE = "gpu-memory-pressure"
TOTAL = 80 * 2**30


def _gpu(rng: np.random.Generator, full_share: float) -> tuple[dict[str, np.ndarray], float]:
    full = episodes(rng, N, round(full_share * N), mean_len=20)
    ratio = np.where(full, rng.uniform(0.955, 0.995, N), rng.uniform(0.5, 0.93, N))
    used = np.round(ratio * TOTAL / 2**20) * 2**20  # MiB cells, as nvidia-smi prints them
    return {"gpu.fb_used": used, "gpu.fb_free": TOTAL - used}, float(full.mean())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("full_share", [0.0, 0.05, 0.2, 0.5, 0.9])
def test_share_tracks_truth(seed: int, full_share: float) -> None:
    rng = np.random.default_rng(seed)
    metrics, truth = _gpu(rng, full_share)
    out = run_rule(Trace.from_series({"gpu0": metrics}), RULE)
    if truth < 0.1:
        assert out.findings == ()
        return
    (finding,) = out.findings
    share = next(e.observed for e in finding.evidence if "share" in e.note)
    assert share == pytest.approx(truth)
    assert finding.severity == ("warning" if truth >= 0.5 else "info")
    assert finding.gpu_time_lost is None


@pytest.mark.parametrize("seed", range(5))
def test_multi_gpu_names_exactly_the_full_ones(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    full = set(rng.choice(8, size=int(rng.integers(0, 8)), replace=False).tolist())
    series = {f"gpu{i}": _gpu(rng, 0.7 if i in full else 0.0)[0] for i in range(8)}
    out = run_rule(Trace.from_series(series), RULE)
    assert {e for f in out.findings for e in f.entities} == {f"node1/gpu{i}" for i in full}
