"""nvidia-smi --query-gpu CSV logs: every spelling the real tool prints, and bad input."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from profiler import api
from profiler.errors import InputError
from profiler.importers import nvidia_smi
from profiler.importers.options import ImportOptions
from profiler.loaders import load_one
from profiler.storage import read_trace
from tests.cli_helpers import run_cli
from tests.importers.smi_files import write_smi_csv

FIELDS = ["timestamp", "index", "name", "utilization.gpu", "memory.used", "memory.total",
          "power.draw", "clocks.current.sm", "clocks.max.sm", "clocks_event_reasons.active"]


def hot_gpu1(field: str, g: int, s: int) -> float | str:
    """GPU 0 healthy at full clock; GPU 1 thermally throttled (0x20) at 1500 of 1980 MHz."""
    return {
        "name": "NVIDIA H100 80GB HBM3",
        "utilization.gpu": 100.0,
        "memory.used": 40000.0,
        "memory.total": 81559.0,
        "power.draw": 650.0 if g == 0 else 560.0,
        "clocks.current.sm": 1980.0 if g == 0 else 1500.0,
        "clocks.max.sm": 1980.0,
        "clocks_event_reasons.active": "0x0000000000000000" if g == 0 else "0x0000000000000020",
    }[field]


def values(trace: api.Trace, entity: str, metric: str) -> np.ndarray:
    s = trace.samples
    rows = (s["entity"] == entity) & (s["metric"] == metric)
    return s.loc[rows].sort_values("ts")["value"].to_numpy()


def test_reads_units_gaps_and_interleaved_gpus(tmp_path: Path) -> None:
    def cell(field: str, g: int, s: int) -> float | str:
        if field == "power.draw" and s == 3:
            return "[N/A]"
        return hot_gpu1(field, g, s)

    path = write_smi_csv(tmp_path / "node7.log", FIELDS, cell, gpus=2, seconds=10)
    trace, fmt = load_one(path)
    assert fmt == "nvidia-smi-csv"
    assert trace.hosts == ["node7"]
    assert values(trace, "gpu1", "gpu.clock_sm").tolist() == [1.5e9] * 10
    assert values(trace, "gpu0", "gpu.util").tolist() == [1.0] * 10
    assert values(trace, "gpu1", "gpu.fb_used")[0] == 40000 * 1024 * 1024
    assert len(values(trace, "gpu0", "gpu.power")) == 9  # [N/A] is a gap, never 0
    assert set(values(trace, "gpu1", "gpu.clocks_event_reasons")) == {32.0}
    info = trace.meta.gpu("node7", "gpu1")
    assert info is not None and info.name == "NVIDIA H100 80GB HBM3"
    assert info.max_sm_clock == 1.98e9 and info.memory_total == 81559 * 1024 * 1024
    assert trace.meta.interval_s == 1.0
    assert trace.start is not None and trace.start.isoformat() == "2026-07-14T08:00:00.353000+00:00"


def test_timezone_option_converts_local_times_to_utc(tmp_path: Path) -> None:
    path = write_smi_csv(tmp_path / "a.csv", FIELDS, hot_gpu1, seconds=2)
    trace = nvidia_smi.load(path, ImportOptions(timezone="Europe/Paris"))
    assert trace.start is not None and trace.start.isoformat().startswith("2026-07-14T06:00:00")


def test_noheader_nounits_needs_and_uses_the_field_list(tmp_path: Path) -> None:
    path = write_smi_csv(tmp_path / "b.csv", FIELDS, hot_gpu1, seconds=5, header=False,
                         nounits=True)
    assert nvidia_smi.detect(path)
    with pytest.raises(InputError, match="--fields"):
        load_one(path)
    trace, _ = load_one(path, ImportOptions(fields=tuple(FIELDS)))
    assert values(trace, "gpu1", "gpu.power").tolist() == [560.0] * 5


def test_old_throttle_names_and_per_reason_flags_build_the_bitmask(tmp_path: Path) -> None:
    fields = ["timestamp", "index", "clocks.sm", "clocks_throttle_reasons.sw_thermal_slowdown",
              "clocks_throttle_reasons.sw_power_cap", "clocks_throttle_reasons.gpu_idle"]

    def cell(field: str, g: int, s: int) -> float | str:
        if field == "clocks.sm":
            return 1700.0
        on = {"clocks_throttle_reasons.sw_thermal_slowdown": g == 1,
              "clocks_throttle_reasons.sw_power_cap": s % 2 == 0,
              "clocks_throttle_reasons.gpu_idle": False}[field]
        return "Active" if on else "Not Active"

    trace, _ = load_one(write_smi_csv(tmp_path / "c.csv", fields, cell, seconds=4))
    assert values(trace, "gpu0", "gpu.clocks_event_reasons").tolist() == [4, 0, 4, 0]
    assert values(trace, "gpu1", "gpu.clocks_event_reasons").tolist() == [36, 32, 36, 32]
    assert values(trace, "gpu0", "gpu.clock_sm").tolist() == [1.7e9] * 4


def test_duration_counters_become_ratios_and_repeated_headers_are_skipped(tmp_path: Path) -> None:
    fields = ["timestamp", "index", "clocks_event_reasons_counters.sw_thermal_slowdown"]
    a = write_smi_csv(tmp_path / "a.csv", fields, lambda f, g, s: 250_000.0 * s * g, seconds=5)
    b = write_smi_csv(tmp_path / "b.csv", fields, lambda f, g, s: 250_000.0 * (s + 6) * g,
                      seconds=5, start=datetime(2026, 7, 14, 8, 0, 6))
    both = tmp_path / "both.csv"
    both.write_text(a.read_text() + b.read_text())  # a restarted `nvidia-smi ... >> log`
    trace, _ = load_one(both)
    assert values(trace, "gpu1", "gpu.throttle.thermal").tolist() == [0.25] * 9
    assert values(trace, "gpu0", "gpu.throttle.thermal").tolist() == [0.0] * 9


def test_gzip_is_read_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = write_smi_csv(tmp_path / "smi.txt", FIELDS, hot_gpu1, seconds=3, compress=True)
    trace, fmt = load_one(path)
    assert fmt == "nvidia-smi-csv" and trace.hosts == ["smi"]
    assert len(values(trace, "gpu0", "gpu.util")) == 3


def test_gzip_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    text = ", ".join(FIELDS) + "\n" + "2026/07/14 08:00:00.000, 0, x, 1 %, 1 MiB, 1 MiB, 1 W, " \
        "1 MHz, 1 MHz, 0x0\n" * 200_000
    path = tmp_path / "bomb.csv"
    path.write_bytes(gzip.compress(text.encode(), 9))
    assert path.stat().st_size < len(text) / 50
    with pytest.raises(InputError, match="gzip bomb"):
        load_one(path, ImportOptions(max_decompressed_bytes=1_000_000))
    result = run_cli("diagnose", str(path), "--max-decompressed", "1000000")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(path) in result.stderr and "gzip bomb" in result.stderr


def test_truncated_gzip_is_one_clear_error(tmp_path: Path) -> None:
    path = write_smi_csv(tmp_path / "t.csv.gz", FIELDS, hot_gpu1, seconds=200, compress=True)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InputError, match="truncated gzip"):
        load_one(path)


@pytest.mark.parametrize(("line", "problem"), [
    pytest.param("2026/07/14 08:00:09.353, 0, x, 97 %", "malformed CSV row", id="short-row"),
    pytest.param("2026/07/14 08:00:09.353, 0, x, lots %, 1 MiB, 1 MiB, 1 W, 1 MHz, 1 MHz, 0x0",
                 "field 'utilization.gpu': 'lots %'", id="bad-number"),
    pytest.param("2026/13/14 08:00:09.353, 0, x, 1 %, 1 MiB, 1 MiB, 1 W, 1 MHz, 1 MHz, 0x0",
                 "timestamp '2026/13/14 08:00:09.353'", id="bad-timestamp"),
    pytest.param("2026/07/14 08:00:09.353, zero, x, 1 %, 1 MiB, 1 MiB, 1 W, 1 MHz, 1 MHz, 0x0",
                 "field 'index'", id="bad-index"),
])
def test_malformed_rows_name_file_row_and_field(tmp_path: Path, line: str, problem: str) -> None:
    path = write_smi_csv(tmp_path / "bad.csv", FIELDS, hot_gpu1, seconds=4)
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(InputError) as caught:
        load_one(path)
    assert problem in str(caught.value) and str(path) in str(caught.value)
    if "row" in problem or "field" in problem:
        assert caught.value.where in (None, "row 10")
    result = run_cli("diagnose", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_header_only_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("timestamp, index, utilization.gpu [%]\n")
    with pytest.raises(InputError, match="no data rows"):
        load_one(path)


def test_diagnose_names_the_throttled_gpu_and_what_smi_cannot_check(tmp_path: Path) -> None:
    path = write_smi_csv(tmp_path / "gpu-node-3.csv", FIELDS, hot_gpu1, gpus=2, seconds=120)
    result = run_cli("diagnose", str(path), "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    thermal = [f for f in report["findings"] if f["id"] == "thermal-throttling"]
    assert thermal and thermal[0]["entities"] == ["gpu-node-3/gpu1"]
    not_checked = {n["rule"]: n["reason"] for n in report["not_checked"]}
    assert "nvidia-smi log" in not_checked["data-starved-cpu"]
    assert "sm_active" in not_checked["allreduce-bound"]


def test_import_command_writes_a_trace_of_several_hosts(tmp_path: Path) -> None:
    a = write_smi_csv(tmp_path / "node1.csv", FIELDS, hot_gpu1, seconds=5)
    b = write_smi_csv(tmp_path / "node2.csv.gz", FIELDS, hot_gpu1, seconds=5, compress=True)
    out = tmp_path / "fleet.trace"
    result = run_cli("import", str(a), str(b), "-o", str(out))
    assert result.returncode == 0, result.stderr
    trace = read_trace(out)
    assert trace.hosts == ["node1", "node2"]
    assert {(g.host, g.entity) for g in trace.meta.gpus} == {
        ("node1", "gpu0"), ("node1", "gpu1"), ("node2", "gpu0"), ("node2", "gpu1")}
    assert len(trace.samples) == 2 * 2 * 5 * 7


def test_unrecognised_file_lists_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("hello, world\n1, 2\n")
    result = run_cli("diagnose", str(path))
    assert result.returncode == 2 and "nvidia-smi-csv" in result.stderr
