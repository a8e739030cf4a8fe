"""A trace on disk: round trips, what pandas and DuckDB see, crashes, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.errors import InputError
from profiler.storage import (
    COMPACT_FILE,
    META_FILE,
    TraceWriter,
    read_trace,
    write_trace,
)
from profiler.trace import Absence, GpuInfo, Trace, TraceMeta


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame.astype({"host": str, "entity": str, "metric": str})
            .sort_values(["ts", "host", "entity", "metric"]).reset_index(drop=True))


def test_round_trip_keeps_samples_metadata_and_events(tmp_path: Path, make_trace) -> None:
    trace = make_trace({"gpu0": {"gpu.util": [1, 0.5, 0.25]}, "host": {"host.cpu.user": [0.1] * 3}},
                       events=[{"ts": "2026-01-01T00:00:01Z", "entity": "gpu0", "kind": "xid",
                                "code": 79, "message": "GPU has fallen off the bus"}])
    meta = TraceMeta(source="record", interval_s=1.0, gpus=(GpuInfo("node1", "gpu0", 0,
                     name="NVIDIA H100 80GB HBM3", pcie_max_gen=5, cpu_affinity=(0, 1)),),
                     unavailable=(Absence("gpu.sm_active", "GPM needs Hopper", "node1", "gpu0"),))
    trace = Trace(trace.samples, meta, trace.events)
    back = read_trace(write_trace(trace, tmp_path / "t"))
    pd.testing.assert_frame_equal(_sorted(back.samples), _sorted(trace.samples))
    assert back.meta == trace.meta
    assert back.events["code"].tolist() == [79]
    assert back.events["message"].tolist() == ["GPU has fallen off the bus"]


@given(st.lists(st.tuples(st.sampled_from(["gpu.util", "gpu.power", "disk.read"]),
                          st.sampled_from(["gpu0", "gpu1", "nvme0n1"]),
                          st.floats(allow_nan=False, allow_infinity=False, width=64)),
                min_size=1, max_size=40))
def test_any_samples_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory,
                                        rows: list[tuple[str, str, float]]) -> None:
    frame = pd.DataFrame({
        "ts": pd.to_datetime(np.arange(len(rows)) * 1_000_000, unit="ns", utc=True),
        "host": "node1", "entity": [r[1] for r in rows], "metric": [r[0] for r in rows],
        "value": [r[2] for r in rows]})
    from profiler.trace import normalize_samples

    trace = Trace(normalize_samples(frame), TraceMeta(interval_s=0.001))
    back = read_trace(write_trace(trace, tmp_path_factory.mktemp("h") / "t"))
    pd.testing.assert_frame_equal(_sorted(back.samples), _sorted(trace.samples))


def test_pandas_and_duckdb_read_the_samples_without_our_code(tmp_path: Path, make_trace) -> None:
    path = write_trace(make_trace({"gpu0": {"gpu.util": [1.0, 0.0, 1.0, 0.5]}}), tmp_path / "t")
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["ts", "host", "entity", "metric", "value"]
    assert frame["value"].sum() == pytest.approx(2.5)
    rows = duckdb.sql(f"select metric, avg(value) from read_parquet('{path}/*.parquet') "
                      "group by metric").fetchall()
    assert rows == [("gpu.util", pytest.approx(0.625))]


def test_unfinished_recording_is_readable_from_its_parts(tmp_path: Path, make_trace) -> None:
    first = make_trace({"gpu0": {"gpu.util": [1.0, 1.0]}})
    second = make_trace({"gpu0": {"gpu.util": [0.5]}}, start="2026-01-01T00:00:02Z")
    writer = TraceWriter(tmp_path / "t", TraceMeta(source="record", complete=False))
    writer.append(first.samples)
    writer.append(second.samples)  # no finalize: as if the recorder were killed here
    back = read_trace(tmp_path / "t")
    assert back.meta.complete is False
    assert back.samples["value"].tolist() == [1.0, 1.0, 0.5]
    assert len(pd.read_parquet(tmp_path / "t")) == 3


def test_leftover_parts_beside_a_finished_merge_are_ignored(tmp_path: Path, make_trace) -> None:
    trace = make_trace({"gpu0": {"gpu.util": [1.0, 0.0]}})
    path = write_trace(trace, tmp_path / "t")
    # A crash between writing samples.parquet and deleting the parts it merged leaves both.
    shutil.copy(path / COMPACT_FILE, path / "part-000000.parquet")
    assert len(read_trace(path).samples) == 2


def test_a_temporary_file_from_a_killed_write_is_not_read(tmp_path: Path, make_trace) -> None:
    path = write_trace(make_trace({"gpu0": {"gpu.util": [1.0]}}), tmp_path / "t")
    (path / "_part-000001.parquet.tmp").write_bytes(b"PAR1 half written")
    assert len(read_trace(path).samples) == 1
    assert len(pd.read_parquet(path)) == 1


def test_single_parquet_file_is_accepted_with_unknown_metadata(tmp_path: Path, make_trace) -> None:
    trace = make_trace({"gpu0": {"gpu.util": [1.0, 0.0, 1.0]}}, interval_s=2.0)
    trace.samples.to_parquet(tmp_path / "s.parquet")
    back = read_trace(tmp_path / "s.parquet")
    assert back.meta.interval_s == 2.0
    assert back.meta.hosts == ()


@pytest.mark.parametrize(("setup", "message"), [
    pytest.param(lambda p: None, "no such file", id="missing"),
    pytest.param(lambda p: p.mkdir(), "no _trace.json", id="empty-dir"),
    pytest.param(lambda p: (p.mkdir(), (p / META_FILE).write_text("{not json")),
                 "unreadable trace metadata", id="bad-json"),
    pytest.param(lambda p: (p.mkdir(), (p / META_FILE).write_text('{"format": "x"}')),
                 "not a profiler trace", id="foreign-json"),
    pytest.param(lambda p: (p.mkdir(), (p / META_FILE).write_text(
        '{"format": "profiler-trace", "format_version": 99}')), "newer profiler", id="newer"),
    pytest.param(lambda p: (p.mkdir(), (p / META_FILE).write_text(
        '{"format": "profiler-trace", "format_version": 1, "gpus": [3]}')),
        "malformed trace metadata", id="bad-gpus"),
    pytest.param(lambda p: p.write_bytes(b"PAR1garbage"), "unreadable Parquet", id="garbage"),
])
def test_bad_input_is_one_clear_error_naming_the_path(tmp_path: Path, setup, message: str) -> None:
    path = tmp_path / "t.parquet"
    setup(path)
    with pytest.raises(InputError, match=message) as info:
        read_trace(path)
    assert str(path) in str(info.value)


def test_parquet_without_our_columns_is_refused(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(InputError, match="no column 'ts'"):
        read_trace(tmp_path / "x.parquet")


def test_metadata_keys_from_a_newer_minor_writer_are_ignored(tmp_path: Path, make_trace) -> None:
    path = write_trace(make_trace({"gpu0": {"gpu.util": [1.0]}}), tmp_path / "t")
    doc = json.loads((path / META_FILE).read_text())
    doc["something_new"] = {"x": 1}
    doc["hosts"] = [{"name": "node1", "future_field": 3}]
    (path / META_FILE).write_text(json.dumps(doc))
    assert read_trace(path).meta.hosts[0].name == "node1"


def test_writer_refuses_to_overwrite_a_directory_that_is_not_a_trace(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        TraceWriter(tmp_path, TraceMeta())
    assert (tmp_path / "precious.txt").read_text() == "keep me"
