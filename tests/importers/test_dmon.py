"""nvidia-smi dmon and dcgmi dmon logs."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from profiler.errors import InputError
from profiler.importers.options import ImportOptions
from profiler.loaders import load_one
from profiler.trace import Trace
from tests.cli_helpers import run_cli
from tests.importers.smi_files import write_dcgmi_dmon, write_smi_dmon


def values(trace: Trace, entity: str, metric: str) -> np.ndarray:
    s = trace.samples
    return s.loc[(s["entity"] == entity) & (s["metric"] == metric)].sort_values("ts")[
        "value"].to_numpy()


def test_smi_dmon_default_columns_without_time(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "dmon.log", seconds=20, repeat_every=7)
    trace, fmt = load_one(path, ImportOptions(start="2026-08-16T09:00:00Z"))
    assert fmt == "nvidia-smi-dmon"
    assert values(trace, "gpu1", "gpu.clock_sm").tolist() == [1.5e9] * 20
    assert values(trace, "gpu0", "gpu.power").tolist() == [631.0] * 20
    assert len(values(trace, "gpu0", "gpu.mem_temp")) == 0  # "-" is missing, not 0
    assert trace.start is not None and trace.start.isoformat() == "2026-08-16T09:00:00+00:00"
    assert trace.meta.interval_s == 1.0


def test_smi_dmon_with_date_and_time_in_a_zone(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "dmon-dt.log", seconds=5, date_time=True)
    trace, _ = load_one(path, ImportOptions(timezone="America/New_York"))
    assert trace.start is not None and trace.start.isoformat() == "2026-08-16T13:22:34+00:00"
    assert values(trace, "gpu0", "gpu.util").tolist() == [1.0] * 5


def test_smi_dmon_gzip_and_row_interval(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "d", seconds=4)
    path.write_bytes(gzip.compress(path.read_bytes()))
    trace, _ = load_one(path, ImportOptions(interval_s=5.0, start="2026-01-01T00:00:00Z"))
    assert trace.meta.interval_s == 5.0 and trace.duration_s == 20.0


def test_smi_dmon_bad_rows(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "d.log", seconds=3)
    path.write_text(path.read_text() + "    0    631     63\n")
    with pytest.raises(InputError) as caught:
        load_one(path)
    assert caught.value.where == "line 9" and "3 columns" in str(caught.value)
    path.write_text(path.read_text().replace("    0    631     63\n", " 0 x" + " 1" * 10 + "\n"))
    with pytest.raises(InputError, match="column 'pwr': 'x'"):
        load_one(path)


def dcgmi_values(field: str, g: int, r: int) -> str:
    if g == 2:
        return {"POWER": "80.554", "TMPTR": "38", "GPUTL": "0"}.get(field, "N/A")
    return {"GPUTL": "100", "SMACT": "0.812", "SMOCC": "0.402", "TENSO": "0.311",
            "DRAMA": "0.455", "POWER": f"{652.31 - g:.3f}", "TMPTR": "63"}[field]


def test_dcgmi_dmon_fields_na_links_and_repeated_headers(tmp_path: Path) -> None:
    path = write_dcgmi_dmon(tmp_path / "dcgmi.txt", dcgmi_values, gpus=3, rounds=30, links=True)
    trace, fmt = load_one(path, ImportOptions(start="2026-08-16T09:00:00Z", interval_s=0.5))
    assert fmt == "dcgmi-dmon"
    assert values(trace, "gpu0", "gpu.sm_active").tolist() == [0.812] * 30
    assert values(trace, "gpu1", "gpu.power").tolist() == [651.31] * 30
    assert values(trace, "gpu0", "gpu.util").tolist() == [1.0] * 30
    assert len(values(trace, "gpu2", "gpu.sm_active")) == 0
    assert trace.meta.interval_s == 0.5 and trace.duration_s == 15.0


def test_dcgmi_dmon_diagnose_checks_what_nvidia_smi_cannot(tmp_path: Path) -> None:
    path = write_dcgmi_dmon(tmp_path / "dcgmi.txt", dcgmi_values, gpus=2, rounds=120)
    result = run_cli("diagnose", str(path), "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    not_checked = {n["rule"]: n["reason"] for n in report["not_checked"]}
    assert "tensor-cores-unused" not in not_checked  # SMACT and TENSO are there
    assert "dcgmi dmon log" in not_checked["data-starved-cpu"]


def test_dcgmi_dmon_bad_rows(tmp_path: Path) -> None:
    path = write_dcgmi_dmon(tmp_path / "d.txt", dcgmi_values, rounds=2)
    path.write_text(path.read_text() + "GPU 0  100  0.5\n")
    with pytest.raises(InputError) as caught:
        load_one(path)
    assert "2 values, the header has 7" in str(caught.value)
    text = path.read_text().replace("GPU 0  100  0.5\n", "GPU 0 " + "abc " * 7 + "\n")
    path.write_text(text)
    with pytest.raises(InputError, match="column 'GPUTL': 'abc'"):
        load_one(path)


def test_dcgmi_header_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("#Entity   GPUTL   POWER\nID                W\n")
    result = run_cli("diagnose", str(path))
    assert result.returncode == 2 and "no GPU rows" in result.stderr


def test_first_row_time_must_be_a_time(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "d.log", seconds=2)
    result = run_cli("diagnose", str(path), "--first-row-time", "yesterday-ish")
    assert result.returncode == 2 and "--first-row-time" in result.stderr


def test_unknown_time_zone_is_an_input_error(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "d.log", seconds=2, date_time=True)
    result = run_cli("diagnose", str(path), "--timezone", "Mars/Olympus")
    assert result.returncode == 2 and "unknown time zone 'Mars/Olympus'" in result.stderr


def test_the_hour_repeated_at_dst_end_is_dropped_not_misplaced(tmp_path: Path) -> None:
    path = write_smi_dmon(tmp_path / "d.log", seconds=4, date_time=True,
                          start=datetime(2026, 10, 25, 2, 30, 0))  # repeated in Europe/Paris
    path.write_text(path.read_text() + write_smi_dmon(
        tmp_path / "e.log", seconds=2, date_time=True,
        start=datetime(2026, 10, 25, 4, 0, 0)).read_text().split("\n", 2)[2])
    trace, _ = load_one(path, ImportOptions(timezone="Europe/Paris"))
    assert trace.start is not None and trace.start.isoformat() == "2026-10-25T03:00:00+00:00"
    assert len(values(trace, "gpu0", "gpu.power")) == 2
