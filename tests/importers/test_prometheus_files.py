"""Prometheus text / OpenMetrics / query JSON files: several hosts, exporters joined per host."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from profiler.errors import InputError
from profiler.importers import prom_json, prom_text
from profiler.importers.options import ImportOptions
from profiler.loaders import load_one
from profiler.trace import Trace
from tests.cli_helpers import run_cli
from tests.importers.prom_files import (
    FLEET,
    Node,
    fleet,
    openmetrics_lines,
    query_range_json,
    text_scrapes,
    write,
)

T0 = 1_790_000_000.0
TIMES = T0 + np.arange(0, 1200, 15.0)  # 20 minutes at 15 s


def series(trace: Trace, host: str, entity: str, metric: str) -> np.ndarray:
    s = trace.samples
    rows = (s["host"] == host) & (s["entity"] == entity) & (s["metric"] == metric)
    return s.loc[rows].sort_values("ts")["value"].to_numpy()


def check_fleet(trace: Trace) -> None:
    assert trace.hosts == ["node-a", "node-b", "node-c"]
    assert set(trace.samples.loc[trace.samples["host"] == "node-b", "entity"].unique()) == {
        "gpu0", "gpu1", "host"}
    np.testing.assert_allclose(series(trace, "node-a", "gpu0", "gpu.util"), 0.97)
    np.testing.assert_allclose(series(trace, "node-b", "gpu1", "gpu.clock_sm"), 1.5e9)
    assert set(series(trace, "node-b", "gpu1", "gpu.clocks_event_reasons")) == {32.0}
    assert set(series(trace, "node-a", "gpu1", "gpu.clocks_event_reasons")) == {0.0}
    # energy counter (mJ) -> mean power (W), preferred over the power gauge
    np.testing.assert_allclose(series(trace, "node-b", "gpu1", "gpu.power"), 560.0)
    # node_cpu_seconds_total: user per CPU, averaged over the 4 CPUs; a rate of a counter
    user = series(trace, "node-a", "host", "host.cpu.user")
    assert len(user) == len(TIMES) - 1
    np.testing.assert_allclose(user, 0.3, rtol=1e-6)
    swap_in = series(trace, "node-c", "host", "host.swap_in")
    assert set(np.round(swap_in / 4096)) == {0.0, 20000.0}
    assert len(series(trace, "node-a", "host", "host.mem_available")) == len(TIMES)
    # derived like the live collector: per-CPU busy = 1 - (idle + iowait) / all modes
    busiest = series(trace, "node-a", "host", "host.cpu.core_busy_max")
    np.testing.assert_allclose(busiest, 1 - 0.51 / 0.86, rtol=1e-6)
    assert set(series(trace, "node-a", "host", "host.cpu.count")) == {4.0}
    assert set(series(trace, "node-a", "host", "host.cpu.cores_saturated")) == {0.0}
    assert set(series(trace, "node-c", "host", "host.swap_used")) == {1e9, 6e9}
    info = trace.meta.gpu("node-b", "gpu1")
    assert info is not None and info.name == "NVIDIA H100 80GB HBM3"
    assert info.uuid == "GPU-10.0.0.2-1"
    host = trace.meta.host("node-a")
    assert host is not None and host.driver_version == "570.124.06"
    assert trace.meta.interval_s == 15.0


def test_text_scrapes_with_millisecond_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path / "scrapes.prom", text_scrapes(fleet(FLEET, TIMES), TIMES))
    trace, fmt = load_one(path)
    assert fmt == "prometheus-text"
    check_fleet(trace)
    assert trace.start is not None and trace.start.timestamp() == T0


def test_openmetrics_backfill_file_gzip(tmp_path: Path) -> None:
    path = write(tmp_path / "history", openmetrics_lines(fleet(FLEET, TIMES), TIMES),
                 compress=True)
    trace, fmt = load_one(path)
    assert fmt == "prometheus-text"
    check_fleet(trace)


def test_query_range_json(tmp_path: Path) -> None:
    path = write(tmp_path / "export.json", query_range_json(fleet(FLEET, TIMES), TIMES))
    trace, fmt = load_one(path)
    assert fmt == "prometheus-json"
    check_fleet(trace)


def test_instant_query_vector_json(tmp_path: Path) -> None:
    doc = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "3", "Hostname": "n1"},
         "value": [T0, "55"]}]}}
    path = write(tmp_path / "q.json", json.dumps(doc))
    trace, _ = load_one(path)
    assert series(trace, "n1", "gpu3", "gpu.util").tolist() == [0.55]


def test_a_single_scrape_without_timestamps(tmp_path: Path) -> None:
    one = TIMES[:1]
    path = write(tmp_path / "metrics.txt", text_scrapes(fleet(FLEET, one), one, timestamps=False))
    trace = prom_text.load(path, ImportOptions(start="2026-07-14T08:00:00Z"))
    assert trace.hosts == ["node-a", "node-b", "node-c"]
    assert trace.start is not None and trace.start.isoformat().startswith("2026-07-14T08:00:00")
    assert series(trace, "node-b", "gpu1", "gpu.clock_sm").tolist() == [1.5e9]


def test_dcgm_blank_sentinels_and_mig_instances_are_dropped(tmp_path: Path) -> None:
    text = ("# TYPE DCGM_FI_DEV_MEMORY_TEMP gauge\n"
            'DCGM_FI_DEV_MEMORY_TEMP{gpu="0",Hostname="h"} 9223372036854775794 1790000000000\n'
            'DCGM_FI_DEV_MEMORY_TEMP{gpu="0",Hostname="h"} 61 1790000015000\n'
            'DCGM_FI_DEV_MEMORY_TEMP{gpu="1",Hostname="h",GPU_I_ID="2"} 40 1790000015000\n'
            'DCGM_FI_DEV_MEMORY_TEMP{gpu="2",Hostname="h"} NaN 1790000015000\n')
    trace, _ = load_one(write(tmp_path / "x.prom", text))
    assert trace.samples["value"].tolist() == [61.0]
    assert trace.samples["entity"].astype(str).tolist() == ["gpu0"]


def test_diagnose_fleet_names_hosts_and_gpus(tmp_path: Path) -> None:
    path = write(tmp_path / "fleet.prom", text_scrapes(fleet(FLEET, TIMES), TIMES))
    result = run_cli("diagnose", str(path), "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    found = {f["id"]: f["entities"] for f in report["findings"]}
    assert found["thermal-throttling"] == ["node-b/gpu1"]
    assert set(found["host-swap-storm"]) == {"node-c/gpu0", "node-c/gpu1"}
    assert set(report["hosts"]) == {"node-a", "node-b", "node-c"}


def test_joins_exporters_through_node_uname_info(tmp_path: Path) -> None:
    node = Node("gpu-node-07", "10.1.2.3", node_instance="10.9.9.9:9100")
    fam = fleet([node], TIMES[:3])
    fam.pop("node_uname_info")
    path = write(tmp_path / "a.prom", text_scrapes(fam, TIMES[:3]))
    assert load_one(path)[0].hosts == ["10.9.9.9", "gpu-node-07"]  # nothing links them
    fam = fleet([node], TIMES[:3])
    path = write(tmp_path / "b.prom", text_scrapes(fam, TIMES[:3]))
    assert load_one(path)[0].hosts == ["gpu-node-07"]


@pytest.mark.parametrize(("text", "problem", "where"), [
    pytest.param('DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="h} 5 1\n', "malformed labels",
                 "line 2", id="open-quote"),
    pytest.param('DCGM_FI_DEV_GPU_UTIL{gpu="0"} five 1\n', "not a number", "line 2",
                 id="bad-value"),
    pytest.param("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 5 -3\n", "bad timestamp", "line 2",
                 id="negative-time"),
    pytest.param("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"}\n", "not a sample line", "line 2",
                 id="no-value"),
])
def test_malformed_exposition_names_the_line(tmp_path: Path, text: str, problem: str,
                                             where: str) -> None:
    path = write(tmp_path / "bad.prom", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n" + text)
    with pytest.raises(InputError) as caught:
        prom_text.load(path)
    assert problem in str(caught.value) and caught.value.where == where


@pytest.mark.parametrize(("doc", "problem"), [
    pytest.param({"status": "error", "errorType": "bad_data", "error": "exceeded maximum "
                  "resolution of 11,000 points"}, "11,000 points", id="error-answer"),
    pytest.param({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"gpu": "0"}, "values": [[1, "2"]]}]}}, "without __name__", id="no-name"),
    pytest.param({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL"}, "values": [[1, "x"]]}]}},
        "is not [time", id="bad-point"),
    pytest.param({"status": "success", "data": {"resultType": "scalar", "result": []}},
                 "is not matrix or vector", id="scalar"),
])
def test_malformed_query_json(tmp_path: Path, doc: object, problem: str) -> None:
    path = write(tmp_path / "bad.json", json.dumps(doc))
    with pytest.raises(InputError, match=problem.replace("[", r"\[")):
        prom_json.load(path)
    result = run_cli("diagnose", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_invalid_json_is_an_input_error(tmp_path: Path) -> None:
    text = query_range_json(fleet(FLEET[:1], TIMES[:4]), TIMES[:4])
    path = write(tmp_path / "cut.json", text[:300])
    with pytest.raises(InputError, match="not valid JSON"):
        prom_json.load(path)


def test_old_namespace_and_uuid_label(tmp_path: Path) -> None:
    text = ("# TYPE dcgm_gpu_utilization gauge\n"
            'dcgm_gpu_utilization{gpu="0",uuid="GPU-1",Hostname="h"} 40 1790000000000\n'
            "# TYPE dcgm_sm_clock gauge\n"
            'dcgm_sm_clock{gpu="0",uuid="GPU-1",Hostname="h"} 1410 1790000000000\n'
            "# TYPE dcgm_fi_prof_pcie_tx_bytes gauge\n"
            'dcgm_fi_prof_pcie_tx_bytes{gpu="0",uuid="GPU-1",Hostname="h"} 5e9 1790000000000\n')
    trace, fmt = load_one(write(tmp_path / "old.prom", text))
    assert fmt == "prometheus-text"
    assert series(trace, "h", "gpu0", "gpu.util").tolist() == [0.4]
    assert series(trace, "h", "gpu0", "gpu.clock_sm").tolist() == [1.41e9]
    assert series(trace, "h", "gpu0", "gpu.pcie_tx").tolist() == [5e9]
    info = trace.meta.gpu("h", "gpu0")
    assert info is not None and info.uuid == "GPU-1"
