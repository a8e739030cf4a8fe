"""thermal-throttling on generated traces: the loss tracks the truth, the right GPUs are named."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.gpu_generators import (
    clock_gpu,
    counter_tolerance,
    episodes,
    run_rule,
    trace_of,
    true_loss,
)

N = 600
RULE = "thermal-throttling"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("share", [0.05, 0.2, 0.6])
@pytest.mark.parametrize("deficit", [0.05, 0.25, 0.5])
def test_loss_tracks_truth_one_gpu_of_four(seed: int, share: float, deficit: float) -> None:
    rng = np.random.default_rng(seed)
    bits = int(rng.choice([0x20, 0x40, 0x60]))
    gpus = {"gpu0": clock_gpu(rng, N), "gpu1": clock_gpu(rng, N, share=share, deficit=deficit,
                                                          bits=bits),
            "gpu2": clock_gpu(rng, N), "gpu3": clock_gpu(rng, N)}
    out = run_rule(trace_of(gpus), RULE, min_active_share=0.03)
    assert [f.entities for f in out.findings] == [("node1/gpu1",)]
    truth = true_loss(gpus, N)["node1/gpu1"]
    assert out.findings[0].gpu_time_lost == pytest.approx(truth, rel=1e-6, abs=1e-9)
    assert truth <= 0.25  # one GPU of four costs at most a quarter


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("share", [0.1, 0.3, 0.6])
def test_duration_counter_loss_within_sampling_error(seed: int, share: float) -> None:
    rng = np.random.default_rng(100 + seed)
    deficit = float(rng.uniform(0.1, 0.5))
    gpu = clock_gpu(rng, 2 * N, share=share, deficit=deficit, counter="gpu.throttle.thermal")
    gpus = {"gpu0": gpu, "gpu1": clock_gpu(rng, 2 * N)}
    out = run_rule(trace_of(gpus), RULE)
    assert [f.entities for f in out.findings] == [("node1/gpu0",)]
    truth = true_loss(gpus, 2 * N)["node1/gpu0"]
    tol = counter_tolerance(gpu.metrics["gpu.throttle.thermal"])
    assert out.findings[0].gpu_time_lost == pytest.approx(truth, rel=tol)


@pytest.mark.parametrize("seed", range(8))
def test_multi_gpu_names_exactly_the_throttled(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    hot = set(rng.choice(8, size=int(rng.integers(1, 5)), replace=False).tolist())
    gpus = {f"gpu{i}": clock_gpu(rng, N, share=float(rng.uniform(0.1, 0.6)),
                                 deficit=float(rng.uniform(0.05, 0.5)))
            if i in hot else clock_gpu(rng, N, temp_normal=float(rng.uniform(40, 80)))
            for i in range(8)}
    out = run_rule(trace_of(gpus), RULE)
    named = {e for f in out.findings for e in f.entities}
    assert named == {f"node1/gpu{i}" for i in hot}
    truth = true_loss(gpus, N)
    for f in out.findings:  # one finding per host: its GPUs' losses add up
        assert f.gpu_time_lost == pytest.approx(sum(truth[e] for e in f.entities), rel=1e-6)
        assert f.gpu_time_lost is not None and f.gpu_time_lost <= len(f.entities) / 8
    assert all("°C" in f.summary and "MHz" in f.summary for f in out.findings)


@pytest.mark.parametrize("seed", range(5))
def test_half_sample_interval(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    gpus = {"gpu0": clock_gpu(rng, N, share=0.3, deficit=0.3)}
    out = run_rule(trace_of(gpus, interval_s=0.5), RULE)
    assert out.findings[0].gpu_time_lost == pytest.approx(true_loss(gpus, N)["node1/gpu0"])


@pytest.mark.parametrize("seed", range(5))
def test_hot_but_unthrottled_never_fires(seed: int) -> None:
    rng = np.random.default_rng(400 + seed)
    gpus = {f"gpu{i}": clock_gpu(rng, N, temp_normal=float(rng.uniform(85, 95)))
            for i in range(4)}
    assert run_rule(trace_of(gpus), RULE).findings == ()


@pytest.mark.parametrize("seed", range(5))
def test_bits_without_reduced_clocks_never_fire(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    gpus = {"gpu0": clock_gpu(rng, N, share=0.5, deficit=0.0)}  # thermal bit, full clock
    assert run_rule(trace_of(gpus), RULE).findings == ()


def test_thermal_and_power_cap_in_separate_episodes_each_recover_their_own() -> None:
    rng = np.random.default_rng(7)
    gpu = clock_gpu(rng, N, share=0.3, deficit=0.3, bits=0x20)
    m = gpu.metrics
    free = np.flatnonzero(m["gpu.clocks_event_reasons"] == 0)  # busy, not thermally throttled
    capped = np.zeros(N, dtype=bool)
    capped[free[episodes(rng, len(free), len(free) // 3)]] = True
    m["gpu.clocks_event_reasons"] = np.where(capped, 0x4, m["gpu.clocks_event_reasons"])
    m["gpu.clock_sm"] = np.where(capped, 1.62e9, m["gpu.clock_sm"])
    d = 1 - m["gpu.clock_sm"] / m["gpu.clock_sm_max"]
    thermal = m["gpu.clocks_event_reasons"] == 0x20
    trace = trace_of({"gpu0": gpu})
    found = run_rule(trace, RULE).findings
    assert found[0].gpu_time_lost == pytest.approx(np.sum(m["gpu.util"] * d * thermal) / N)
    found = run_rule(trace, "power-capping").findings
    assert found[0].gpu_time_lost == pytest.approx(np.sum(m["gpu.util"] * d * capped) / N)


@pytest.mark.parametrize("seed", range(3))
def test_reason_bits_are_or_ed_within_a_bin_not_averaged(seed: int) -> None:
    """Several samples per grid bin: 0x20 and 0x0 average to 0x10 (sync boost); OR-ed they stay
    0x20. Checked against an independent per-bin OR, and through the rule."""
    import rules  # noqa: F401 - registers every rule
    from profiler.engine import run_rules
    from profiler.features import Features
    from profiler.trace import Trace
    from rules import _gpu_clocks as gc

    rng = np.random.default_rng(seed)
    n = 90
    reasons = rng.choice([0x0, 0x1, 0x4, 0x20, 0x24], size=n).astype(float)
    trace = Trace.from_series({"gpu0": {
        "gpu.clocks_event_reasons": reasons,
        "gpu.clock_sm": np.where(reasons >= 0x4, 1.5e9, 2e9),
        "gpu.clock_sm_max": np.full(n, 2e9),
        "gpu.util": np.where(reasons == 0x1, 0.0, 1.0),
    }}, interval_s=1 / 3)
    f = Features(trace, step_s=1.0)
    got = gc.reason_mask(f)["node1/gpu0"].to_numpy()
    bins = np.arange(n) // 3  # Features: three consecutive 1/3 s samples per 1 s bin
    want = np.zeros(bins.max() + 1, dtype=int)
    for b, r in zip(bins, reasons.astype(int), strict=True):  # independent, loop-based OR
        want[b] |= r
    assert np.array_equal(got.astype(int), want)
    (finding,) = run_rules(f, rule_ids=[RULE]).findings
    share = next(e.observed for e in finding.evidence if e.metric == "gpu.clocks_event_reasons")
    util = f.gpu_util()["node1/gpu0"].to_numpy()
    assert share == pytest.approx(np.sum(util * ((want & 0x20) != 0)) / np.sum(util))
