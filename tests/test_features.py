"""The time grid every rule reads: exact numbers on small traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from profiler.features import Features


def test_wide_puts_each_metric_on_one_grid_with_entity_labels(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.util": [1, 0, np.nan, 1]},
                             "node2/gpu0": {"gpu.util": [0.5, 0.5, 0.5, 0.5]},
                             "host": {"host.cpu.iowait": [0, 0.5, 0.5, 0]}}))
    util = f.wide("gpu.util")
    assert list(util.columns) == ["node1/gpu0", "node2/gpu0"]
    assert util["node1/gpu0"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(util["node1/gpu0"].iloc[2])
    assert list(f.wide("host.cpu.iowait").columns) == ["node1"]
    assert f.gpus == ["node1/gpu0", "node2/gpu0"]
    assert f.hosts == ["node1", "node2"]
    assert f.wide("gpu.power").empty and not f.has("gpu.power")


def test_samples_within_one_bin_are_averaged(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.util": [1, 0, 1, 1]}}, interval_s=0.5), step_s=1.0)
    assert f.wide("gpu.util")["node1/gpu0"].tolist() == [0.5, 1.0]


def test_per_host_aggregates_devices_and_spreads_onto_gpus(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.util": [1, 1]}, "gpu1": {"gpu.util": [1, 1]},
                             "nvme0n1": {"disk.busy": [0.2, 1.0]}, "sda": {"disk.busy": [0.5, 0]},
                             "node2/sdb": {"disk.busy": [0.9, 0.9]}}))
    busiest = f.per_host("disk.busy")
    assert busiest["node1"].tolist() == [0.5, 1.0]
    assert f.per_host("disk.busy", "sum")["node1"].tolist() == [0.7, 1.0]
    spread = f.for_gpus(busiest)
    assert list(spread.columns) == ["node1/gpu0", "node1/gpu1"]
    assert spread["node1/gpu1"].tolist() == [0.5, 1.0]


def test_cooccurrence_measures_idle_time_that_coincides_with_a_cause(make_trace) -> None:
    # gpu0 idle in bins 1-2, gpu1 idle in bin 2 only; the cause is present in bins 1-2.
    f = Features(make_trace({"gpu0": {"gpu.util": [1, 0, 0, 1]}, "gpu1": {"gpu.util": [1, 1, 0, 1]},
                             "nvme0n1": {"disk.busy": [0, 1, 1, 0]}}))
    cause = f.for_gpus(f.per_host("disk.busy") >= 0.9)
    co = f.cooccurrence(cause)
    assert co.lost == pytest.approx(3 / 8)
    assert co.idle_with == pytest.approx(3 / 4)
    assert co.idle_without == 0.0
    assert co.cause_share == 0.5
    assert co.idle_covered == 1.0
    assert co.lift == pytest.approx(0.75)


def test_a_cause_merely_present_has_no_lift(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.util": [1, 0, 1, 0]},
                             "nvme0n1": {"disk.busy": [1, 1, 0, 0]}}))
    co = f.cooccurrence(f.for_gpus(f.per_host("disk.busy") >= 0.9))
    assert co.lift == pytest.approx(0.0)


def test_clock_event_bits_and_clock_ratio(make_trace) -> None:
    from profiler.trace import GpuInfo, Trace, TraceMeta

    trace = make_trace({"gpu0": {"gpu.clocks_event_reasons": [0x1, 0x24, 0x20, 0x0],
                                 "gpu.clock_sm": [345e6, 1410e6, 1410e6, 1980e6]}})
    trace = Trace(trace.samples, TraceMeta(interval_s=1.0, gpus=(
        GpuInfo("node1", "gpu0", 0, max_sm_clock=1980e6),)))
    f = Features(trace)
    assert f.bit_share(0x20)["node1/gpu0"] == 0.5
    assert f.bit_share(0x4)["node1/gpu0"] == 0.25
    assert f.bit_share(0x1)["node1/gpu0"] == 0.25
    assert f.clock_ratio()["node1/gpu0"].tolist() == pytest.approx(
        [345 / 1980, 1410 / 1980, 1410 / 1980, 1.0])


def test_gpu_util_falls_back_to_graphics_engine_activity(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.gr_engine_active": [0.25, 0.75]}}))
    assert f.gpu_idle()["node1/gpu0"].tolist() == [0.75, 0.25]
    assert f.lost_fraction(f.gpu_idle()) == pytest.approx(0.5)


def test_idle_energy_integrates_power_over_idle_time(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.util": [0, 0, 1, 0.5],
                                      "gpu.power": [80, 80, 600, 400]}}))
    assert f.idle_energy_j() == pytest.approx(80 + 80 + 0 + 200)


def test_empty_trace_has_no_bins() -> None:
    from profiler.trace import Trace, empty_samples

    f = Features(Trace(empty_samples()))
    assert f.n_bins == 0 and f.gpus == [] and f.wide("gpu.util").empty


def test_share_at_least_counts_only_observed_bins(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.temp": [90, 80, np.nan, 95]}}))
    assert f.share_at_least("gpu.temp", 90)["node1/gpu0"] == pytest.approx(2 / 3)


def test_grid_is_vectorized_over_a_day_of_eight_gpus(make_trace) -> None:
    n = 86_400
    rng = np.random.default_rng(0)
    trace = make_trace({f"gpu{i}": {"gpu.util": rng.random(n)} for i in range(8)})
    wide = Features(trace).wide("gpu.util")
    assert wide.shape == (n, 8)
    assert isinstance(wide.index, pd.DatetimeIndex)


def test_bitmasks_are_or_ed_within_a_bin_not_averaged(make_trace) -> None:
    f = Features(make_trace({"gpu0": {"gpu.clocks_event_reasons": [0x20, 0x0, 0x4, 0x1,
                                                                   float("nan"), float("nan"),
                                                                   0x40, 0x40]}},
                            interval_s=0.5), step_s=1.0)
    reasons = f.wide("gpu.clocks_event_reasons")["node1/gpu0"]
    assert reasons.tolist()[:2] == [0x20, 0x5] and reasons.iloc[3] == 0x40
    assert np.isnan(reasons.iloc[2])
    assert f.bit_share(0x10)["node1/gpu0"] == 0.0
