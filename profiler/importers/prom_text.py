"""Prometheus text exposition (0.0.4) and OpenMetrics files: one scrape or many, streamed.

Samples carry a timestamp (text format: integer milliseconds; OpenMetrics: seconds; told apart
by size) or none (a saved `/metrics` scrape): then each repetition of a series starts a new
scrape, placed ImportOptions.interval_s (default 15 s) apart, the last at the file's time.
Only series the catalog maps (dcgm-exporter, node_exporter) are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from profiler.errors import InputError
from profiler.importers._io import file_label, head_text, open_text
from profiler.importers.options import ImportOptions
from profiler.importers.prom_series import RawSeries, series_to_trace, wanted
from profiler.importers.times import parse_time
from profiler.trace import Trace

FORMAT = "prometheus-text"
DEFAULT_SCRAPE_S = 15.0
MAX_LINE = 1 << 20
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"({_NAME})(\{{(.*)\}})?[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*")
_PAIR = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)')
_ESCAPE = re.compile(r"\\(.)")
MAX_TIME_S = 9.2e9  # nanoseconds since 1970 fit in int64 until 2262
MS_THRESHOLD = 1e11  # a timestamp this large is milliseconds (1e11 s is the year 5138)


def detect(path: Path) -> bool:
    """Sample lines and HELP/TYPE comments only, naming at least one dcgm/node metric."""
    lines = [ln.strip() for ln in head_text(path).splitlines()[:200] if ln.strip()]
    if not lines or lines[0].startswith("{"):
        return False
    known = False
    for i, line in enumerate(lines):
        if line.startswith("#"):
            words = line.split()
            if len(words) > 2 and words[1] in ("HELP", "TYPE", "UNIT"):
                known = known or wanted(words[2])
            continue
        m = _SAMPLE.fullmatch(line)
        if m is None:
            if i < len(lines) - 1:  # the last line of a 64 KiB head may be cut short
                return False
            continue
        known = known or wanted(m.group(1))
    return known


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_labels(text: str) -> dict[str, str] | None:
    """`a="1",b="x\\"y"` -> dict; None when malformed."""
    labels: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _PAIR.match(text, pos)
        if not m:
            return None
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
_HEAD = re.compile(rf"({_NAME})(\{{(.*)\}})?")


class _Collector:
    def __init__(self) -> None:
        self.series: dict[SeriesKey, tuple[list[float], list[float]]] = {}
        self.untimed: dict[SeriesKey, int] = {}
        self.heads: dict[str, SeriesKey | None] = {}  # `name{labels}` text -> key (None: skip)
        self.scrapes = 0

    def add(self, key: SeriesKey, value: float, ts: float | None) -> None:
        times, values = self.series.setdefault(key, ([], []))
        if ts is None:
            seen = self.untimed.get(key, -1) + 1
            self.untimed[key] = seen
            self.scrapes = max(self.scrapes, seen + 1)
            ts = -1.0 - seen  # scrape number, placed in time once all are counted
        times.append(ts)
        values.append(value)


def load(path: Path, options: ImportOptions | None = None) -> Trace:
    """Read a Prometheus text/OpenMetrics file (plain or gzip) into a Trace."""
    options = options or ImportOptions()
    source = str(path)
    got = _Collector()
    lineno = 0
    with open_text(path, options.max_decompressed_bytes) as f:
        for raw in f:
            lineno += 1
            if len(raw) > MAX_LINE:
                raise InputError(source, "line longer than 1 MiB", where=f"line {lineno}")
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            _parse_sample(line, got, source, lineno)
    if not got.series:
        raise InputError(source, "no dcgm-exporter or node_exporter samples (DCGM_FI_*, node_*)")
    return _to_trace(path, got, options)


def _head_key(head: str, line: str, source: str, lineno: int) -> SeriesKey | None:
    """Validate `name{labels}` once per distinct text; None for series nobody maps."""
    m = _HEAD.fullmatch(head)
    if not m:
        raise InputError(source, f"not a sample line: {line[:80]!r}", where=f"line {lineno}")
    labels = parse_labels(m.group(3)) if m.group(2) else {}
    if labels is None:
        raise InputError(source, f"malformed labels in {line[:80]!r}", where=f"line {lineno}")
    return (m.group(1), tuple(sorted(labels.items()))) if wanted(m.group(1)) else None


def _parse_sample(line: str, got: _Collector, source: str, lineno: int) -> None:
    close = line.rfind("}")
    if close >= 0:  # values and timestamps never hold "}": the last one closes the labels
        head, rest = line[: close + 1], line[close + 1:].split()
    else:
        words = line.split()
        head, rest = words[0], words[1:]
    if head in got.heads:
        key = got.heads[head]
    else:
        key = got.heads[head] = _head_key(head, line, source, lineno)
    if not rest or len(rest) > 2 or (close >= 0 and not line[close + 1:close + 2].isspace()):
        raise InputError(source, f"not a sample line: {line[:80]!r}", where=f"line {lineno}")
    if key is None:
        return
    try:
        value = float(rest[0])  # accepts NaN, +Inf, -Inf, 1e3
        ts = float(rest[1]) if len(rest) == 2 else None
    except ValueError:
        raise InputError(source, f"value or timestamp is not a number in {line[:80]!r}",
                         where=f"line {lineno}") from None
    if ts is not None:
        if not np.isfinite(ts) or ts < 0:
            raise InputError(source, f"bad timestamp {rest[1]!r}", where=f"line {lineno}")
        ts = ts / 1000.0 if ts >= MS_THRESHOLD else ts
        if ts > MAX_TIME_S:
            raise InputError(source, f"timestamp {rest[1]!r} is past the year 2262",
                             where=f"line {lineno}")
    got.add(key, value, ts)


def _to_trace(path: Path, got: _Collector, options: ImportOptions) -> Trace:
    interval = options.interval_s or DEFAULT_SCRAPE_S
    if options.start:
        first = parse_time(options.start, option="--first-row-time")
    else:
        first = path.stat().st_mtime - (max(got.scrapes, 1) - 1) * interval
    series = []
    for (name, labels), (times, values) in got.series.items():
        ts = np.asarray(times, dtype="float64")
        untimed = ts < 0
        ts[untimed] = first + (-ts[untimed] - 1.0) * interval
        series.append(RawSeries(name, dict(labels), ts, np.asarray(values, dtype="float64")))
    extra = {"import.format": FORMAT}
    if got.scrapes:
        extra["import.time_origin"] = f"{got.scrapes} scrape(s) without timestamps, " \
            f"{interval:g} s apart"
    trace = series_to_trace(series, source=FORMAT, label="this Prometheus data",
                            default_host=options.host or file_label(path), labels=extra)
    if trace.samples.empty:
        raise InputError(str(path), "no dcgm-exporter or node_exporter series with samples")
    return trace
