"""Reading Kineto traces: streaming in batches gives exactly what json.load sees; ranks; errors."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from profiler.errors import InputError
from profiler.pytorch.jsonstream import stream_events
from profiler.pytorch.prettystream import NotPretty, stream_pretty
from profiler.pytorch.reader import read_rank, read_ranks, sniff
from tests.pytorch.kineto import NEEDS_TRACES, NW0, TRACES, worked_example, write


def _streamed(path: Path, chunk: int) -> tuple[list[Any], dict[str, Any]]:
    events: list[Any] = []
    meta = stream_events(path, events.extend, chunk=chunk)
    return events, meta


NASTY = st.text(alphabet=st.sampled_from(list('ab{}[],:"\\ \n\u00e9')), max_size=12)


@given(names=st.lists(NASTY, min_size=1, max_size=8), chunk=st.integers(1, 64),
       compact=st.booleans())
@example(names=['\\', '"}', "{[", "\\\\"], chunk=1, compact=True)
def test_batches_cut_anywhere_give_what_json_load_gives(tmp_path_factory: pytest.TempPathFactory,
                                                        names: list[str], chunk: int,
                                                        compact: bool) -> None:
    doc = {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "x{[\"}"}],
           "traceEvents": [{"ph": "X", "cat": "kernel", "name": n, "ts": i, "dur": 1,
                            "args": {"grid": [1, 2, 3], "s": n}} for i, n in enumerate(names)],
           "distributedInfo": {"rank": 3, "pg_config": [{"ranks": [0, 1]}]}}
    path = tmp_path_factory.mktemp("s") / "t.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc,
                                                                                       indent=2))
    events, meta = _streamed(path, chunk)
    assert events == doc["traceEvents"]
    assert meta == {k: v for k, v in doc.items() if k != "traceEvents"}


def test_a_top_level_array_of_events_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1,
                                        "dur": 2, "schemaVersion": 1}])
    events, meta = _streamed(path, 5)
    assert len(events) == 1 and meta == {}


def test_times_are_exact_nanoseconds_from_the_earliest_event(tmp_path: Path) -> None:
    doc = worked_example()
    base = 4458676522000  # µs, as Kineto writes them relative to baseTimeNanoseconds
    doc["baseTimeNanoseconds"] = 1_700_000_000_000_000_000
    for e in doc["traceEvents"]:
        e["ts"] += base
    doc["traceEvents"][-2]["ts"] = base + 690.655
    doc["traceEvents"][-2]["dur"] = 1.5
    frame, origin, meta = read_rank(write(tmp_path / "t.json.gz", doc))
    assert origin == 1_700_000_000_000_000_000 + base * 1000
    row = frame[frame["ts"] == frame["ts"].max()]
    assert int(row["ts"].iloc[0]) == 690655 and int(row["dur"].iloc[0]) == 1500
    assert meta["distributedInfo"]["rank"] == 0


def test_rank_comes_from_distributed_info_then_file_name_then_ordinal(tmp_path: Path) -> None:
    write(tmp_path / "a.json", worked_example(rank=5))
    write(tmp_path / "trace_rank-2.json", worked_example(rank=None))
    write(tmp_path / "z.json", worked_example(rank=None))
    ranks = read_ranks([tmp_path])
    assert [(r.rank, r.path.name, r.rank_source) for r in ranks] == [
        (0, "z.json", "ordinal"), (2, "trace_rank-2.json", "file name"),
        (5, "a.json", "distributedInfo")]


def test_two_files_claiming_one_rank_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.json", worked_example(rank=1))
    write(tmp_path / "b.json", worked_example(rank=1))
    with pytest.raises(InputError, match="rank 1 is also claimed"):
        read_ranks([tmp_path])


@pytest.mark.parametrize("damage", [
    pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
    pytest.param(lambda b: b.replace(b'"ph": "X"', b'"ph" "X"', 1), id="missing-colon"),
    pytest.param(lambda b: b.replace(b"}", b"]", 3), id="unbalanced"),
    pytest.param(lambda b: b.replace(b'"traceEvents"', b'"events"'), id="no-trace-events"),
])
def test_malformed_json_is_an_input_error_naming_the_file(tmp_path: Path, damage: Any) -> None:
    good = json.dumps(worked_example(), indent=1).encode()
    path = tmp_path / "bad.json"
    path.write_bytes(damage(good))
    with pytest.raises(InputError) as e:
        read_ranks([path])
    assert str(path) in str(e.value)


def test_a_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps(worked_example()).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) - 20])
    with pytest.raises(InputError, match=r"cut\.json\.gz"):
        read_ranks([path])


@pytest.mark.skipif(not NW0.exists(), reason=NEEDS_TRACES)
def test_memory_stays_well_below_the_expanded_trace() -> None:
    with gzip.open(NW0) as fh:
        expanded = len(fh.read())
    tracemalloc.start()
    try:
        frame, _, _ = read_rank(NW0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(frame) == 23646 + 11923 + 8772 + 312 + 12 + 1  # its X events: ops, runtime, ...
    assert peak < expanded / 3, f"peak {peak / 1e6:.0f} MB for a {expanded / 1e6:.0f} MB trace"


@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=8), gz=st.booleans())
def test_any_damage_gives_a_trace_or_an_input_error_naming_the_file(
        tmp_path_factory: pytest.TempPathFactory, cut: int, junk: bytes, gz: bool) -> None:
    from profiler.pytorch.load import load_group

    good = json.dumps(worked_example(), indent=1).encode()
    cut = min(cut, len(good))
    data = good[:cut] + junk + good[cut + len(junk):]
    path = tmp_path_factory.mktemp("f") / ("t.json.gz" if gz else "t.json")
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        trace = load_group([path])
    except InputError as e:
        assert str(path) in str(e)
    else:
        assert "pytorch" in trace.analyses


@given(names=st.lists(NASTY, min_size=1, max_size=8), indent=st.integers(1, 4),
       chunk=st.integers(1, 64))
def test_the_pretty_path_reads_what_json_load_reads_or_steps_aside(
        tmp_path_factory: pytest.TempPathFactory, names: list[str], indent: int,
        chunk: int) -> None:
    doc = {"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "x{[\"}\n  }"}],
           "traceEvents": [{"ph": "X", "cat": "kernel", "name": n, "ts": i, "dur": 1,
                            "args": {"grid": [1, 2, 3], "s": n, "nested": {"a": [n]}}}
                           for i, n in enumerate(names)],
           "distributedInfo": {"rank": 3, "pg_config": [{"ranks": [0, 1]}]}}
    path = tmp_path_factory.mktemp("p") / "t.json"
    path.write_text(json.dumps(doc, indent=indent))
    events: list[Any] = []
    meta = stream_pretty(path, events.extend, chunk=chunk)
    assert events == doc["traceEvents"]
    assert meta == {k: v for k, v in doc.items() if k != "traceEvents"}


def test_the_pretty_path_steps_aside_for_compact_json(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", worked_example())
    path.write_text(json.dumps(worked_example(), separators=(",", ":")))
    with pytest.raises(NotPretty):
        stream_pretty(path, lambda batch: None)


@pytest.mark.skipif(not TRACES.is_dir(), reason=NEEDS_TRACES)
def test_the_pretty_path_and_the_scanner_agree_on_every_real_trace() -> None:
    files = sorted(TRACES.rglob("*.json.gz")) + sorted(TRACES.rglob("*.json"))
    pretty = 0
    for path in files:
        if not sniff(path):
            continue
        scanned: list[Any] = []
        try:
            meta = stream_events(path, scanned.extend)
        except InputError:
            continue
        fast: list[Any] = []
        try:
            fast_meta = stream_pretty(path, fast.extend)
        except NotPretty:
            continue
        assert fast == scanned and fast_meta == meta, path
        pretty += 1
    assert pretty >= 10
