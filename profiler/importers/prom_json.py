"""JSON saved from Prometheus' HTTP API: /api/v1/query_range (matrix) or /api/v1/query
(vector), one document or a JSON list of them. Timestamps are float seconds, values strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from profiler.errors import InputError
from profiler.importers._io import file_label, head_text, open_binary
from profiler.importers.options import ImportOptions
from profiler.importers.prom_series import RawSeries, series_to_trace
from profiler.importers.prom_text import MAX_TIME_S
from profiler.trace import Trace

FORMAT = "prometheus-json"
_START = re.compile(r'\s*\[?\s*\{\s*"(status|data)"\s*:')


def detect(path: Path) -> bool:
    head = head_text(path, 4096)
    return bool(_START.match(head)) and '"result' in head_text(path)


def _fail(source: str, problem: str, where: str | None = None) -> InputError:
    return InputError(source, problem, where=where)


def parse_document(doc: Any, source: str, where: str = "") -> list[RawSeries]:
    """The series of one API answer; InputError naming the JSON path of what is wrong."""
    if not isinstance(doc, Mapping):
        raise _fail(source, "not a Prometheus API answer (expected an object)", where or None)
    if doc.get("status") == "error":
        raise _fail(source, f"the saved answer is an error: {doc.get('errorType')}: "
                    f"{str(doc.get('error'))[:200]}", where or None)
    data = doc.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("result"), list):
        raise _fail(source, "no data.result list", where or None)
    kind = data.get("resultType")
    if kind not in ("matrix", "vector"):
        raise _fail(source, f"resultType {kind!r} is not matrix or vector", f"{where}data")
    out = []
    for i, item in enumerate(data["result"]):
        at = f"{where}data.result[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("metric"), Mapping):
            raise _fail(source, "a result without a metric object", at)
        labels = {str(k): str(v) for k, v in item["metric"].items()}
        points = item.get("values") if kind == "matrix" else [item.get("value")]
        if not isinstance(points, list):
            raise _fail(source, "values is not a list", at)
        ts, values = _points(points, source, at)
        name = labels.pop("__name__", "")
        if not name:
            raise _fail(source, "a series without __name__: save raw metrics, not expressions "
                        "that drop the name (rate(), sum by ...)", at)
        out.append(RawSeries(name, labels, ts, values))
    return out


def _points(points: list[Any], source: str, at: str) -> tuple[np.ndarray, np.ndarray]:
    ts = np.empty(len(points), dtype="float64")
    values = np.empty(len(points), dtype="float64")
    for j, p in enumerate(points):  # per point: JSON is already Python objects
        try:
            if not isinstance(p, list) or len(p) != 2 or isinstance(p[0], bool):
                raise TypeError
            ts[j] = float(p[0])
            values[j] = float(p[1])
        except (TypeError, ValueError):
            raise _fail(source, f"point {str(p)[:60]} is not [time, \"value\"]", at) from None
    if not np.isfinite(ts).all() or (ts < 0).any() or (ts > MAX_TIME_S).any():
        raise _fail(source, "a timestamp is not a time between 1970 and 2262", at)
    return ts, values


def load(path: Path, options: ImportOptions | None = None) -> Trace:
    """Read saved query / query_range JSON (plain or gzip) into a Trace."""
    options = options or ImportOptions()
    source = str(path)
    with open_binary(path, options.max_decompressed_bytes) as f:
        try:
            doc = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _fail(source, f"not valid JSON: {e}") from None
        except RecursionError:
            raise _fail(source, "JSON nested too deeply") from None
    docs = doc if isinstance(doc, list) else [doc]
    series = [s for i, d in enumerate(docs)
              for s in parse_document(d, source, f"[{i}]." if isinstance(doc, list) else "")]
    trace = series_to_trace(series, source=FORMAT, label="this Prometheus data",
                            default_host=options.host or file_label(path),
                            labels={"import.format": FORMAT})
    if trace.samples.empty:
        names = sorted({s.name for s in series})[:5]
        raise _fail(source, "no dcgm-exporter or node_exporter series with samples"
                    + (f" (found {', '.join(names)})" if names else ""))
    return trace
