"""Every scenario gives a valid trace with catalog metrics in plausible ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from profiler.catalog import CLOCK_EVENT_BITS, METRICS
from profiler.simulate import SCENARIOS
from profiler.storage import read_trace, write_trace
from profiler.trace import EVENT_KINDS, SAMPLE_COLUMNS
from tests.simulate.helpers import IDLE, Run, Wide, bits

ALL_BITS = sum(CLOCK_EVENT_BITS.values())
CASES = [pytest.param(name, hosts, id=f"{name}-{hosts}h")
         for name in SCENARIOS for hosts in (1, 2)]
INTEGRAL = {"gpu.pcie_gen", "gpu.pcie_gen_max", "gpu.pcie_width", "gpu.pcie_width_max",
            "gpu.process_count", "gpu.ecc_corrected", "gpu.ecc_uncorrected",
            "gpu.row_remap_pending", "gpu.row_remap_failure", "gpu.remapped_rows_uncorrectable",
            "gpu.xid_last", "gpu.clocks_event_reasons", "host.cpu.count",
            "host.cpu.cores_saturated", "host.procs_running", "host.procs_blocked", "gpu.temp",
            "gpu.mem_temp"}


@pytest.mark.parametrize(("name", "hosts"), CASES)
def test_samples_are_canonical(run: Run, name: str, hosts: int) -> None:
    s = run(name, hosts=hosts).samples
    assert tuple(s.columns) == SAMPLE_COLUMNS
    assert str(s["ts"].dtype) == "datetime64[ns, UTC]"
    assert all(isinstance(s[c].dtype, pd.CategoricalDtype) for c in ("host", "entity", "metric"))
    assert s["value"].dtype == np.float64 and np.isfinite(s["value"]).all()
    assert set(s["metric"].unique()) <= set(METRICS)
    assert set(s["host"].unique()) == {f"node{h + 1}" for h in range(hosts)}
    assert not s.duplicated(["ts", "host", "entity", "metric"]).any()
    kinds = {m.name: m.kind for m in METRICS.values()}
    for metric, entities in s.groupby("metric", observed=True)["entity"].unique().items():
        kind = kinds[str(metric)]
        names = {str(e) for e in entities}
        if kind == "gpu":
            assert all(e.startswith("gpu") for e in names)
        elif kind == "host":
            assert names == {"host"}


@pytest.mark.parametrize(("name", "hosts"), CASES)
def test_values_are_in_plausible_ranges(run: Run, name: str, hosts: int) -> None:
    s = run(name, hosts=hosts).samples
    units = s["metric"].map({m.name: m.unit for m in METRICS.values()}).astype(str)
    ratio = s[units == "ratio"]["value"]
    assert ratio.between(0, 1).all()
    assert (s[units.isin(["bytes", "bytes/s", "count", "1/s", "W", "Hz"])]["value"] >= 0).all()
    whole = s[s["metric"].isin(INTEGRAL)]["value"]
    assert (whole == np.round(whole)).all()
    by = s.pivot_table(index=["ts", "host", "entity"], columns="metric", values="value",
                       observed=True)
    by.columns = by.columns.astype(str)
    gpu = by.dropna(subset=["gpu.util"])
    assert (gpu["gpu.power"] <= gpu["gpu.power_limit"] * 1.015).all()
    assert (gpu["gpu.power"] >= 60).all()
    assert gpu["gpu.temp"].between(20, 92).all() and gpu["gpu.mem_temp"].between(20, 95).all()
    assert (gpu["gpu.fb_used"] <= gpu["gpu.fb_total"]).all()
    assert (gpu["gpu.fb_used"] + gpu["gpu.fb_free"] < gpu["gpu.fb_total"]).all()
    assert gpu["gpu.clock_sm"].between(3.0e8, gpu["gpu.clock_sm_max"].max()).all()
    assert (gpu["gpu.clocks_event_reasons"].astype(np.int64) & ~ALL_BITS == 0).all()
    assert (gpu["gpu.pcie_gen"] <= gpu["gpu.pcie_gen_max"]).all()
    assert (gpu["gpu.pcie_width"] <= gpu["gpu.pcie_width_max"]).all()
    assert (gpu["gpu.sm_active"] <= gpu["gpu.util"] + 0.03).all()
    assert (gpu["gpu.tensor_active"] <= gpu["gpu.sm_active"] + 0.03).all()
    host = by.dropna(subset=["host.cpu.user"])
    shares = host[["host.cpu.user", "host.cpu.system", "host.cpu.iowait", "host.cpu.steal",
                   "host.cpu.idle"]].sum(axis=1)
    assert np.allclose(shares, 1.0, atol=0.01)
    assert (host["host.mem_available"] <= host["host.mem_total"]).all()
    assert (host["host.swap_used"] <= host["host.swap_total"]).all()
    assert (host["host.psi.io_full"] <= host["host.psi.io_some"] + 0.02).all()
    assert (host["host.psi.memory_full"] <= host["host.psi.memory_some"] + 0.03).all()
    assert (host["host.cpu.cores_saturated"] <= host["host.cpu.count"]).all()
    if hosts > 1:
        links = by.dropna(subset=["ib.rate"])
        assert (links["ib.tx"] <= links["ib.rate"]).all()
        assert (links["ib.rx"] <= links["ib.rate"]).all()
    else:
        assert "ib.rate" not in by
    assert (gpu["gpu.nvlink_tx"] <= 18 * 25e9).all()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_round_trips_through_storage(run: Run, name: str, tmp_path: Path) -> None:
    trace = run(name, hosts=2)
    back = read_trace(write_trace(trace, tmp_path / "t"))
    assert back.meta == trace.meta
    order = ["ts", "host", "entity", "metric"]

    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        plain = frame.astype({c: str for c in ("host", "entity", "metric")})
        return plain.sort_values(order, kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(tidy(back.samples), tidy(trace.samples))
    pd.testing.assert_frame_equal(back.events.reset_index(drop=True),
                                  trace.events.reset_index(drop=True))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_events_are_well_formed(run: Run, name: str) -> None:
    events = run(name).events
    assert set(events["kind"]) <= set(EVENT_KINDS)
    assert events["ts"].is_monotonic_increasing


def test_idle_bit_means_idle_clock_and_slow_link(run: Run, wide: Wide) -> None:
    for name in ("data-starved-storage", "gpu-idle", "lookalike-checkpoint"):
        w = wide(run(name), "gpu0")
        idle = bits(w, IDLE)
        assert idle.any()
        assert (w.loc[idle, "gpu.clock_sm"] == 345e6).all()
        assert (w.loc[idle, "gpu.pcie_gen"] < w.loc[idle, "gpu.pcie_gen_max"]).all()
        assert (w.loc[~idle, "gpu.clock_sm"] > 345e6).all()


def test_small_and_odd_layouts(run: Run) -> None:
    one = run("thermal-throttling", gpus=1, duration_s=60).samples
    assert set(one["entity"].astype(str)) >= {"gpu0", "host"}
    assert one[one["metric"] == "gpu.nvlink_tx"]["value"].max() == 0  # no peers, no all-reduce
    three = run("straggler", gpus=3, hosts=3, duration_s=60, interval_s=0.25).samples
    assert three["ts"].nunique() == 240
    assert three[three["metric"] == "gpu.util"]["entity"].nunique() == 3
