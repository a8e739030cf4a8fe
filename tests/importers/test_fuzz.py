"""Every importer, fed truncated, garbled and adversarial files, returns a Trace or raises an
InputError naming the file: never another exception, never a traceback."""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from profiler.errors import InputError
from profiler.importers import IMPORTERS, ImportOptions
from profiler.loaders import load_one
from profiler.storage import read_trace, write_trace
from profiler.trace import Trace
from tests.importers.prom_files import FLEET, fleet, openmetrics_lines, query_range_json, write
from tests.importers.smi_files import (
    write_dcgmi_dmon,
    write_smi_csv,
    write_smi_dmon,
)

WORK = Path(tempfile.mkdtemp(prefix="profiler-fuzz-"))
OPTIONS = ImportOptions(start="2026-01-01T00:00:00Z", max_decompressed_bytes=2_000_000)
FIELDS = ["timestamp", "index", "name", "utilization.gpu", "power.draw", "clocks.sm",
          "clocks_event_reasons.active", "clocks_event_reasons_counters.sw_thermal_slowdown"]


def _smi_cell(field: str, g: int, s: int) -> float | str:
    return {"name": "NVIDIA H100", "utilization.gpu": 50.0 + g, "power.draw": 300.0,
            "clocks.sm": 1980.0, "clocks_event_reasons.active": "0x0000000000000001",
            "clocks_event_reasons_counters.sw_thermal_slowdown": 1000.0 * s}[field]


def _seeds() -> dict[str, bytes]:
    t = 1_790_000_000.0 + np.arange(0, 90, 15.0)
    fam = fleet(FLEET[:2], t, cpus=1)
    fam3 = fleet(FLEET[:1], t[:3], cpus=1)
    return {
        "nvidia-smi-csv": write_smi_csv(WORK / "seed.csv", FIELDS, _smi_cell, seconds=4)
        .read_bytes(),
        "prometheus-text": write(WORK / "seed.om", openmetrics_lines(fam, t)).read_bytes(),
        "prometheus-json": write(WORK / "seed.json", query_range_json(fam3, t[:3])).read_bytes(),
        "nvidia-smi-dmon": write_smi_dmon(WORK / "seed.dmon", seconds=4).read_bytes(),
        "dcgmi-dmon": write_dcgmi_dmon(WORK / "seed.dcgmi", lambda f, g, r: "1.5",
                                       rounds=3).read_bytes(),
    }


SEEDS = _seeds()
LOADERS: dict[str, Callable[[Path, ImportOptions | None], Trace]] = {
    i.name: i.load for i in IMPORTERS}
_counter = iter(range(10**9))


def _check(data: bytes, name: str | None) -> None:
    path = WORK / f"case-{next(_counter)}"
    path.write_bytes(data)
    try:
        trace = LOADERS[name](path, OPTIONS) if name else load_one(path, OPTIONS)[0]
    except InputError as e:
        assert str(path) in str(e)
        assert "\n" not in str(e).strip()
    else:
        assert isinstance(trace, Trace)
        assert not trace.samples["value"].isna().any()
    finally:
        path.unlink()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed of some format, cut, garbled, with lines dropped, repeated or inserted."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "flip", "drop", "dup", "insert", "swap"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if op == "cut":
            lines = [*lines[:i], lines[i][: draw(st.integers(0, len(lines[i])))]]
        elif op == "flip" and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            byte = draw(st.sampled_from(b'\x00"{},[]#- x9.\xff\t=\\e'))
            lines[i] = lines[i][:j] + bytes([byte]) + lines[i][j + 1:]
        elif op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.binary(max_size=60)))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    out = b"\n".join(lines)
    if draw(st.booleans()):
        packed = gzip.compress(out)
        out = packed[: draw(st.integers(len(packed) // 2, len(packed)))]
    return name, out


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated(), st.booleans())
def test_mutated_files_load_or_fail_with_input_error(case: tuple[str, bytes],
                                                     direct: bool) -> None:
    name, data = case
    _check(data, name if direct else None)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(LOADERS)), st.binary(max_size=400) | st.text(max_size=400).map(
    str.encode))
@example("nvidia-smi-csv", b"timestamp, index, utilization.gpu [%]\n")
@example("nvidia-smi-csv", b"utilization.gpu, index\n1 %, 99999999999999999999\n")
@example("prometheus-text", b'DCGM_FI_DEV_GPU_UTIL{gpu="0"} 1 1e400\n')
@example("prometheus-text", b'DCGM_FI_DEV_GPU_UTIL{gpu="0",gpu="1"} NaN\n')
@example("prometheus-json", b"[" * 100_000)
@example("prometheus-json", b'{"status":"success","data":{"resultType":"matrix","result":'
         b'[{"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","gpu":"0"},"values":[[1e300,"1"]]}]}}')
@example("nvidia-smi-dmon", b"# gpu pwr\n# Idx W\n 0 1\n 0\n")
@example("dcgmi-dmon", b"#Entity GPUTL\nGPU\n")
@example("dcgmi-dmon", b"#Entity GPUTL\nGPU 99999999999999999999999 1\n")
def test_arbitrary_bytes_never_crash_an_importer(name: str, data: bytes) -> None:
    _check(data, name)


@settings(deadline=None, max_examples=25)
@given(st.lists(st.tuples(st.integers(0, 7), st.floats(0, 100, allow_nan=False)), min_size=1,
                max_size=30))
def test_imported_traces_round_trip_through_parquet(rows: list[tuple[int, float]]) -> None:
    text = "timestamp, index, utilization.gpu [%]\n" + "".join(
        f"2026/01/01 00:00:{i % 60:02d}.000, {g}, {v:.2f} %\n" for i, (g, v) in enumerate(rows))
    path = WORK / f"rt-{next(_counter)}.csv"
    path.write_text(text)
    trace = LOADERS["nvidia-smi-csv"](path, None)
    out = WORK / f"rt-{next(_counter)}.trace"
    write_trace(trace, out)
    back = read_trace(out)
    key = ["host", "entity", "metric", "ts"]

    def norm(s: pd.DataFrame) -> pd.DataFrame:
        return s.astype({"host": str, "entity": str, "metric": str}).sort_values(key).reset_index(
            drop=True)

    pd.testing.assert_frame_equal(norm(trace.samples), norm(back.samples))
    assert back.meta.gpus == trace.meta.gpus
