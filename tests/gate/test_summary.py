"""Saved baseline summaries: round trip, and any malformed file is an InputError naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from profiler.errors import InputError
from profiler.gate.calibration import ar1
from profiler.gate.settings import GateSettings
from profiler.gate.summary import (
    SourceFile,
    is_summary_file,
    read_summary,
    sha256_of,
    side_from_trace,
    summary_to_dict,
    write_summary,
)
from profiler.trace import Trace


def test_round_trip_keeps_every_statistic(make_trace: Callable[..., Trace],
                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    values = ar1(rng, 2, 300, 0.7, 0.05, 0.8)
    trace = make_trace({"gpu0": {"gpu.util": list(values[0])},
                        "gpu1": {"gpu.util": list(values[1])}})
    settings = replace(GateSettings(), windows=0)
    side = side_from_trace(trace, "runs", (SourceFile("a.trace", "0" * 64),), settings)
    path = tmp_path / "b" / "main.json"
    write_summary(side, path)
    assert is_summary_file(path)
    back = read_summary(path)
    assert back.figures == side.figures and back.testbed == side.testbed
    assert back.sources == side.sources and back.findings == side.findings
    assert summary_to_dict(back) | {"label": ""} == summary_to_dict(side) | {"label": ""}


def test_sha256_of_a_directory_covers_names_and_contents(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "a").write_bytes(b"1")
    first = sha256_of(d)
    (d / "a").write_bytes(b"2")
    second = sha256_of(d)
    assert second != first
    (d / "a").rename(d / "b")
    assert sha256_of(d) not in (first, second)
    assert len(first) == 64


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                     | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@example(body={"testbed": {"gpu_models": [], "gpus": float("inf"), "hosts": 1}})
@given(body=st.dictionaries(
    st.sampled_from(["testbed", "figures", "findings", "sources", "windows", "window_hits",
                     "x"]), _json, max_size=7))
def test_a_malformed_summary_is_an_input_error_naming_the_file(body: dict[str, object]) -> None:
    import tempfile

    doc = {"kind": "profiler-gate-baseline", "schema_version": 1, **body}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        try:
            read_summary(path)
        except InputError as e:
            assert "fuzz.json" in str(e)


def test_other_json_is_not_a_summary(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"schema_version": 1, "findings": []}', encoding="utf-8")
    assert not is_summary_file(path)
    old = tmp_path / "old.json"
    old.write_text('{"kind": "profiler-gate-baseline", "schema_version": 99}', encoding="utf-8")
    try:
        read_summary(old)
    except InputError as e:
        assert "schema_version 99" in str(e)
    else:
        raise AssertionError("a future schema version must be refused")
