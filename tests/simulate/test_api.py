"""simulate()'s contract: the registry, argument checks, determinism, metadata."""

from __future__ import annotations

import pandas as pd
import pytest

from profiler.errors import UsageError
from profiler.simulate import SCENARIOS, Scenario, simulate
from tests.simulate.helpers import Run

REQUIRED = {"healthy", "data-starved-storage", "data-starved-cpu", "data-starved", "pcie-bound",
            "allreduce-bound", "pcie-link-degraded", "thermal-throttling", "power-capping",
            "hardware-slowdown", "tensor-cores-unused", "memory-bandwidth-bound",
            "gpu-memory-pressure", "host-swap-storm", "gpu-idle", "straggler",
            "gpu-hardware-errors", "numa-misaligned", "lookalike-busy-disk", "lookalike-hot-gpu",
            "lookalike-cpu-saturated", "lookalike-checkpoint"}


def test_registry_has_every_required_scenario() -> None:
    assert set(SCENARIOS) >= REQUIRED


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_documented(name: str) -> None:
    s = SCENARIOS[name]
    assert isinstance(s, Scenario) and s.name == name
    assert s.description and "\n" not in s.description
    assert "Diagnosis:" in s.doc


def test_unknown_scenario_lists_the_valid_names() -> None:
    with pytest.raises(UsageError) as err:
        simulate("no-such-state")
    assert "no-such-state" in str(err.value)
    assert all(name in str(err.value) for name in SCENARIOS)


@pytest.mark.parametrize("kwargs", [
    pytest.param({"gpus": 0}, id="no-gpus"),
    pytest.param({"hosts": 0}, id="no-hosts"),
    pytest.param({"gpus": 2.5}, id="fractional-gpus"),
    pytest.param({"duration_s": 0}, id="zero-duration"),
    pytest.param({"duration_s": -5}, id="negative-duration"),
    pytest.param({"duration_s": float("nan")}, id="nan-duration"),
    pytest.param({"interval_s": 0.01}, id="interval-too-short"),
    pytest.param({"intensity": -0.1}, id="intensity-below-0"),
    pytest.param({"intensity": 1.5}, id="intensity-above-1"),
    pytest.param({"duration_s": 0.5, "interval_s": 1.0}, id="shorter-than-one-interval"),
    pytest.param({"duration_s": 1e9}, id="too-many-samples"),
    pytest.param({"start": "not a time"}, id="bad-start"),
])
def test_bad_arguments_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        simulate("healthy", **kwargs)  # type: ignore[arg-type]


def test_same_seed_gives_identical_samples_and_events() -> None:
    a = simulate("gpu-hardware-errors", duration_s=120, seed=7)
    b = simulate("gpu-hardware-errors", duration_s=120, seed=7)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.meta == b.meta


def test_different_seeds_differ(run: Run) -> None:
    a, b = run("healthy", seed=1).samples, run("healthy", seed=2).samples
    assert a[["ts", "host", "entity", "metric"]].equals(b[["ts", "host", "entity", "metric"]])
    assert not a["value"].equals(b["value"])


def test_start_and_interval_set_the_timestamps() -> None:
    t = simulate("healthy", duration_s=10, interval_s=0.5, start="2025-03-04T05:06:07Z", gpus=1)
    stamps = sorted(t.samples["ts"].unique())
    assert len(stamps) == 20
    assert stamps[0] == pd.Timestamp("2025-03-04T05:06:07.5Z")
    assert (pd.Series(stamps).diff().dropna() == pd.Timedelta(seconds=0.5)).all()
    assert t.meta.interval_s == 0.5 and t.duration_s == pytest.approx(10.0)


def test_metadata_describes_the_node(run: Run) -> None:
    t = run("healthy", hosts=2)
    m = t.meta
    assert m.source == "simulate:healthy"
    assert m.labels == {"scenario": "healthy", "seed": "0", "intensity": "1"}
    assert [h.name for h in m.hosts] == ["node1", "node2"]
    assert all(h.cpu_count == 224 and h.numa_nodes == 2 for h in m.hosts)
    assert len(m.gpus) == 16 and len({g.uuid for g in m.gpus}) == 16
    g3, g4 = m.gpu("node1", "gpu3"), m.gpu("node1", "gpu4")
    assert g3 is not None and g4 is not None
    assert (g3.numa_node, g4.numa_node) == (0, 1)
    assert g3.name == "NVIDIA H100 80GB HBM3" and g3.max_sm_clock == 1.98e9
    assert (g3.pcie_max_gen, g3.pcie_max_width, g3.nvlink_count, g3.gpm) == (5, 16, 18, True)
    assert g3.power_limit == 700 and g3.memory_total == 81559 * 1024**2
    assert set(g3.cpu_affinity) == set(m.processes[3].cpus_allowed)
    start, end = t.start, t.end
    assert start is not None and end is not None
    assert m.started == start.isoformat() and m.ended == end.isoformat()


def test_numa_misaligned_pins_processes_to_the_far_socket(run: Run) -> None:
    m = run("numa-misaligned").meta
    for proc in m.processes:
        gpu = m.gpu(proc.host, proc.gpu)
        assert gpu is not None
        assert proc.mems_allowed == (1 - gpu.numa_node,)  # type: ignore[operator]
        assert not set(proc.cpus_allowed) & set(gpu.cpu_affinity)
    healthy = run("healthy").meta
    assert all(p.mems_allowed == (healthy.gpu(p.host, p.gpu).numa_node,)  # type: ignore[union-attr]
               for p in healthy.processes)


def test_power_limit_in_metadata_is_the_enforced_one(run: Run) -> None:
    assert {g.power_limit for g in run("power-capping").meta.gpus} == {450.0}
