"""Figures from traces, and verdicts of compare() on sides built from real Traces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest

from profiler.errors import InputError
from profiler.features import Features
from profiler.gate.calibration import ar1
from profiler.gate.compare import compare
from profiler.gate.figures import trace_series, warmup_bins
from profiler.gate.settings import GateSettings
from profiler.gate.stats import summarize
from profiler.gate.summary import FindingDigest, Side, side_from_trace
from profiler.gate.summary import Testbed as Bed
from profiler.trace import Trace

NO_WINDOWS = replace(GateSettings(), windows=0)
FAMILIES = ("gpu_busy", "gpu_busy_per_gpu", "step_time", "tensor_active", "nvlink_bytes",
            "pcie_rx_bytes")


def busy(seed: int, n: int = 400, mean: float = 0.8, gpus: int = 2,
         metric: str = "gpu.sm_active") -> dict[str, dict[str, list[float]]]:
    rng = np.random.default_rng(seed)
    series = ar1(rng, gpus, n, mean, 0.05, 0.8)
    return {f"gpu{i}": {metric: list(series[i])} for i in range(gpus)}


def series_of(trace: Trace,
              settings: GateSettings = NO_WINDOWS) -> dict[tuple[str, str], np.ndarray]:
    found = trace_series(Features(trace), FAMILIES, warmup=settings.warmup,
                         warmup_min_s=settings.warmup_min_s,
                         warmup_min_steps=settings.warmup_min_steps)
    return {(s.figure, s.source): s.values for s in found}


def test_busy_share_prefers_sm_activity_and_keeps_utilization(
        make_trace: Callable[..., Trace]) -> None:
    sm = [0.5, 0.6] * 50
    util = [1.0] * 100
    trace = make_trace({"gpu0": {"gpu.sm_active": sm, "gpu.util": util},
                        "gpu1": {"gpu.sm_active": sm, "gpu.util": util}})
    got = series_of(trace)
    skip = warmup_bins(100, 1.0, 0.1, 30.0)
    assert skip == 30                                   # 10 % of 100 s < 30 s
    assert np.allclose(got[("gpu_busy", "gpu.sm_active")], np.array(sm[skip:]))
    assert np.allclose(got[("gpu_busy", "gpu.util")], 1.0)
    assert len(got[("gpu_busy/node1/gpu1", "gpu.sm_active")]) == 70
    assert ("step_time", "steps") not in got


def test_throughput_proxies_sum_over_gpus(make_trace: Callable[..., Trace]) -> None:
    trace = make_trace({
        "gpu0": {"gpu.nvlink_tx": [1e9] * 60, "gpu.nvlink_rx": [2e9] * 60,
                 "gpu.pcie_rx": [5e8] * 60, "gpu.tensor_active": [0.4] * 60},
        "gpu1": {"gpu.nvlink_tx": [1e9] * 60, "gpu.nvlink_rx": [2e9] * 60,
                 "gpu.pcie_rx": [5e8] * 60, "gpu.tensor_active": [0.6] * 60}})
    got = series_of(trace)
    assert np.allclose(got[("nvlink_bytes", "gpu.nvlink_tx+gpu.nvlink_rx")], 6e9)
    assert np.allclose(got[("pcie_rx_bytes", "gpu.pcie_rx")], 1e9)
    assert np.allclose(got[("tensor_active", "gpu.tensor_active")], 0.5)
    assert len(got[("tensor_active", "gpu.tensor_active")]) == 30


@dataclass
class Steps:
    durations: np.ndarray

    def step_times(self) -> np.ndarray:
        return self.durations


def test_step_times_come_from_a_loader_analysis(make_trace: Callable[..., Trace]) -> None:
    trace = make_trace({"gpu0": {"gpu.util": [1.0] * 50}})
    trace.analyses["steps"] = Steps(np.arange(1.0, 301.0))
    got = series_of(trace)[("step_time", "steps")]
    assert got[0] == 31.0 and len(got) == 270          # first 10 % of 300 steps dropped


def test_same_distribution_passes_and_a_drop_fails(make_trace: Callable[..., Trace]) -> None:
    base = side_from_trace(make_trace(busy(1)), "base", (), NO_WINDOWS)
    same = side_from_trace(make_trace(busy(2)), "same", (), NO_WINDOWS)
    worse = side_from_trace(make_trace(busy(3, mean=0.68)), "worse", (), NO_WINDOWS)
    ok = compare(base, same, NO_WINDOWS)
    assert ok.exit_code() == 0
    assert {c.name for c in ok.checks} == {"gpu_busy", "gpu_busy/node1/gpu0",
                                           "gpu_busy/node1/gpu1"}
    bad = compare(base, worse, NO_WINDOWS)
    overall = next(c for c in bad.checks if c.name == "gpu_busy")
    assert overall.verdict == "regression" and bad.exit_code() == 1
    assert overall.change == pytest.approx(-0.15, abs=0.03)
    assert overall.ci is not None and overall.ci[0] < overall.change < overall.ci[1] < -0.03
    assert overall.source == "gpu.sm_active" and overall.samples == (360, 360)
    better = compare(worse, base, NO_WINDOWS)
    assert {c.verdict for c in better.checks} == {"improved"} and better.exit_code() == 0


def test_a_small_significant_change_within_the_floor_passes(
        make_trace: Callable[..., Trace]) -> None:
    base = side_from_trace(make_trace(busy(4, n=3000)), "b", (), NO_WINDOWS)
    cand = side_from_trace(make_trace(busy(5, n=3000, mean=0.8 * 0.985)), "c", (), NO_WINDOWS)
    check = compare(base, cand, NO_WINDOWS).checks[0]
    assert check.p_value is not None and check.p_value < 0.01
    assert check.verdict == "pass" and "within the 3% floor" in check.detail
    strict_floor = replace(NO_WINDOWS, thresholds={"gpu_busy": 0.01})
    assert compare(base, cand, strict_floor).checks[0].verdict == "regression"


def test_too_little_data_is_inconclusive(make_trace: Callable[..., Trace]) -> None:
    base = side_from_trace(make_trace(busy(6, n=150)), "b", (), NO_WINDOWS)
    cand = side_from_trace(make_trace(busy(7, n=150, mean=0.5)), "c", (), NO_WINDOWS)
    result = compare(base, cand, NO_WINDOWS)
    assert {c.verdict for c in result.checks} == {"inconclusive"}
    assert "needs >= 200 samples per side" in result.checks[0].detail
    assert result.exit_code() == 0 and result.exit_code(strict=True) == 3


def test_sides_use_the_busy_source_they_share(make_trace: Callable[..., Trace]) -> None:
    base = side_from_trace(make_trace(busy(8, metric="gpu.util")), "b", (), NO_WINDOWS)
    cand_series = busy(9)
    for gpu, values in busy(10, metric="gpu.util").items():
        cand_series[gpu].update(values)
    cand = side_from_trace(make_trace(cand_series), "c", (), NO_WINDOWS)
    check = compare(base, cand, NO_WINDOWS).checks[0]
    assert check.source == "gpu.util" and check.verdict == "pass"


def test_a_figure_on_one_side_only_is_inconclusive(make_trace: Callable[..., Trace]) -> None:
    plain = make_trace(busy(11))
    stepped = make_trace(busy(12))
    stepped.analyses["steps"] = Steps(np.full(400, 0.5))
    result = compare(side_from_trace(stepped, "b", (), NO_WINDOWS),
                     side_from_trace(plain, "c", (), NO_WINDOWS), NO_WINDOWS)
    step = next(c for c in result.checks if c.name == "step_time")
    assert step.verdict == "inconclusive" and "not measured in the candidate" in step.detail


def test_testbed_mismatch_is_an_input_error(make_trace: Callable[..., Trace]) -> None:
    two = side_from_trace(make_trace(busy(13)), "two", (), NO_WINDOWS)
    four = side_from_trace(make_trace(busy(14, gpus=4)), "four", (), NO_WINDOWS)
    with pytest.raises(InputError, match="testbed differs"):
        compare(two, four, NO_WINDOWS)
    figures_only = replace(NO_WINDOWS, figures=("gpu_busy",))
    assert compare(two, four, figures_only, allow_testbed_mismatch=True).exit_code() == 0


def _side(findings: tuple[FindingDigest, ...], hits: dict[str, int], windows: int = 8) -> Side:
    stats = summarize(np.full(300, 0.8))
    return Side("s", (), Bed((), 1, 1), {"gpu_busy": {"gpu.util": stats}}, findings,
                windows, hits)


def test_new_findings_at_warning_or_above_are_regressions() -> None:
    base = _side((FindingDigest("gpu-idle", "info", 0.01),), {})
    cand = _side((FindingDigest("gpu-idle", "critical", 0.4),
                  FindingDigest("data-starved-storage", "critical", 0.5, ("node1/gpu0",)),
                  FindingDigest("thermal-throttling", "info", 0.01),
                  FindingDigest("pcie-link-degraded", "warning", 0.0)),
                 {"gpu-idle": 8, "data-starved-storage": 8, "pcie-link-degraded": 1})
    result = compare(base, cand, GateSettings())
    verdicts = {c.name: c.verdict for c in result.checks if c.family == "new_finding"}
    # gpu-idle was in the baseline (at info: hysteresis), thermal is info, pcie flapped (1 of 8)
    assert verdicts == {"new-finding/data-starved-storage": "regression",
                        "new-finding/pcie-link-degraded": "pass"}
    assert result.exit_code() == 1
    ignoring = replace(GateSettings(), ignore_findings=frozenset({"data-starved-storage"}))
    assert compare(base, cand, ignoring).exit_code() == 0
    critical_only = replace(GateSettings(), fail_on="critical")
    cand_warning = _side((FindingDigest("numa-misaligned", "warning", 0.1),),
                         {"numa-misaligned": 8})
    assert compare(base, cand_warning, critical_only).exit_code() == 0
    assert compare(base, cand_warning, GateSettings()).exit_code() == 1


def test_finding_loss_compares_windows_in_absolute_points() -> None:
    lost = summarize(np.array([0.10, 0.12, 0.11, 0.10, 0.12, 0.11, 0.10, 0.12]), independent=True)
    more = summarize(np.array([0.20, 0.22, 0.21, 0.20, 0.22, 0.21, 0.20, 0.22]), independent=True)
    base = _side((), {})
    base.figures["loss/straggler"] = {"diagnose": lost}
    cand = _side((), {})
    cand.figures["loss/straggler"] = {"diagnose": more}
    check = next(c for c in compare(base, cand, GateSettings()).checks
                 if c.name == "loss/straggler")
    assert check.verdict == "regression"
    assert check.change == pytest.approx(0.10) and check.change_kind == "absolute"
    gone = next(c for c in compare(cand, _side((), {}), GateSettings()).checks
                if c.name == "loss/straggler")
    assert gone.verdict == "improved" and gone.candidate == 0.0


def test_nothing_to_compare_is_an_input_error(make_trace: Callable[..., Trace]) -> None:
    host_only = make_trace({"host": {"host.cpu.user": [0.5] * 300}})
    side = side_from_trace(host_only, "cpu.trace", (), NO_WINDOWS)
    assert side.figures == {}
    with pytest.raises(InputError, match="nothing to compare"):
        compare(side, side, NO_WINDOWS)
