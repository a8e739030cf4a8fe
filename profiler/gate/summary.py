"""One side of a gate (baseline or candidate) reduced to what the comparison needs.

A side is built from recordings (any format `profiler.api.load` reads) or read back from a saved
baseline summary (JSON, a few kilobytes): the block means of every figure, the findings of the
whole recording, and each finding's gpu_time_lost in each of `windows` equal time windows.
Saving the summary of recordings and gating against it gives the same verdicts as gating
against the recordings themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from profiler import __version__
from profiler.config import Config
from profiler.errors import InputError
from profiler.features import Features
from profiler.gate.figures import trace_series, warmup_bins
from profiler.gate.settings import GateSettings
from profiler.gate.stats import SeriesStats, summarize
from profiler.trace import Trace

SUMMARY_KIND = "profiler-gate-baseline"
SUMMARY_VERSION = 1
LOSS_PREFIX = "loss/"
LOSS_SOURCE = "diagnose"


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class FindingDigest:
    id: str
    severity: str
    gpu_time_lost: float | None
    entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Testbed:
    """What must match for two sides to be comparable."""

    gpu_models: tuple[str, ...]
    gpus: int
    hosts: int

    def describe(self) -> str:
        models = ", ".join(self.gpu_models) or "unknown GPU model"
        return f"{self.hosts} host(s), {self.gpus} GPU(s) ({models})"


@dataclass(frozen=True, slots=True)
class Side:
    label: str                                   # what the user named: paths or a baseline
    sources: tuple[SourceFile, ...]
    testbed: Testbed
    figures: dict[str, dict[str, SeriesStats]]   # figure -> source metric -> stats
    findings: tuple[FindingDigest, ...]
    windows: int                                 # windows diagnosed (0: none)
    window_hits: dict[str, int] = field(default_factory=dict)  # id -> windows it fired in
    tool_version: str = __version__


def side_from_trace(trace: Trace, label: str, sources: tuple[SourceFile, ...],
                    settings: GateSettings, config: Config | None = None) -> Side:
    """Summarize one side's recordings: figures, findings, per-window finding losses."""
    from profiler import api

    features = Features(trace)
    if features.n_bins == 0:
        raise InputError(label, "the recording holds no samples")
    figures: dict[str, dict[str, SeriesStats]] = {}
    for series in trace_series(features, settings.figures, warmup=settings.warmup,
                               warmup_min_s=settings.warmup_min_s,
                               warmup_min_steps=settings.warmup_min_steps):
        figures.setdefault(series.figure, {})[series.source] = summarize(
            series.values, max_blocks=settings.max_blocks)
    report = api.diagnose(trace, None, config)
    findings = tuple(FindingDigest(f.id, f.severity, f.gpu_time_lost, tuple(f.entities))
                     for f in report.findings)
    hits: dict[str, int] = {}
    # Analyses of a whole recording (a PyTorch timeline's steps) cannot be cut into time
    # windows: such a side is judged on its whole-recording findings and its step times.
    windowed = "finding_loss" in settings.figures and not trace.analyses
    windows = settings.windows if windowed else 0
    if windows:
        losses, hits = _window_losses(trace, features, settings, config)
        for finding_id, values in losses.items():
            figures[LOSS_PREFIX + finding_id] = {
                LOSS_SOURCE: summarize(values, independent=True)}
    testbed = Testbed(
        gpu_models=tuple(sorted({g.name for g in trace.meta.gpus if g.name})),
        gpus=len(features.gpus), hosts=len(features.hosts))
    return Side(label, sources, testbed, figures, findings, windows, hits)


def _window_losses(trace: Trace, features: Features, settings: GateSettings,
                   config: Config | None) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Diagnose `settings.windows` equal windows after warm-up: each finding's gpu_time_lost
    per window (0 where it did not fire) and how many windows it fired in at >= fail_on."""
    from profiler import api

    order = ("info", "warning", "critical")
    skip = warmup_bins(features.n_bins, features.step_s, settings.warmup, settings.warmup_min_s)
    start_ns = features.t0.value + round((skip - 0.5) * features.step_s * 1e9)
    end_ns = features.t0.value + round((features.n_bins - 0.5) * features.step_s * 1e9)
    edges = np.linspace(start_ns, end_ns, settings.windows + 1).round().astype("int64")
    ts = trace.samples["ts"].array.asi8
    which = np.searchsorted(edges, ts, side="right") - 1
    losses: dict[str, np.ndarray] = {}
    hits: dict[str, int] = {}
    for w in range(settings.windows):
        rows = np.flatnonzero(which == w)
        if len(rows) == 0:
            continue
        part = Trace(trace.samples.iloc[rows].reset_index(drop=True), trace.meta,
                     _events_between(trace.events, edges[w], edges[w + 1]))
        for f in api.diagnose(part, None, config).findings:
            if f.gpu_time_lost is not None:
                losses.setdefault(f.id, np.zeros(settings.windows))[w] += f.gpu_time_lost
            if order.index(f.severity) >= order.index(settings.fail_on):
                hits[f.id] = hits.get(f.id, 0) + 1
    return losses, hits


def _events_between(events: pd.DataFrame, start_ns: int, end_ns: int) -> pd.DataFrame:
    if events.empty:
        return events
    ts = events["ts"].array.asi8
    return events[(ts >= start_ns) & (ts < end_ns)].reset_index(drop=True)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, sorted)."""
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            digest.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Loaded:
    """One side's recordings, read but not yet summarized."""

    trace: Trace
    label: str
    sources: tuple[SourceFile, ...]


def load_side(paths: Sequence[str | os.PathLike[str]]) -> Side | Loaded:
    """Read one side: a saved summary (one .json) or recordings of any supported format."""
    from profiler import api

    if len(paths) == 1 and is_summary_file(Path(paths[0])):
        return read_summary(Path(paths[0]))
    for p in paths:
        if is_summary_file(Path(p)):
            raise InputError(str(p), "a saved baseline summary cannot be mixed with recordings")
    trace, _ = api.load(paths)
    label = " ".join(str(p) for p in paths)
    return Loaded(trace, label, tuple(SourceFile(str(p), sha256_of(p)) for p in paths))


def summarize_side(side: Side | Loaded, settings: GateSettings,
                   config: Config | None = None) -> Side:
    if isinstance(side, Side):
        return side
    return side_from_trace(side.trace, side.label, side.sources, settings, config)


def side_from_paths(paths: Sequence[str | os.PathLike[str]], settings: GateSettings,
                    config: Config | None = None) -> Side:
    """Load recordings of any supported format (or one saved summary) into a Side."""
    return summarize_side(load_side(paths), settings, config)


# --- the saved summary ---------------------------------------------------------------------------

def is_summary_file(path: Path) -> bool:
    """A JSON file whose top-level "kind" is a gate baseline summary."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and SUMMARY_KIND.encode() in head


def summary_to_dict(side: Side) -> dict[str, Any]:
    return {
        "kind": SUMMARY_KIND,
        "schema_version": SUMMARY_VERSION,
        "tool_version": side.tool_version,
        "label": side.label,
        "sources": [dataclasses.asdict(s) for s in side.sources],
        "testbed": dataclasses.asdict(side.testbed),
        "windows": side.windows,
        "window_hits": side.window_hits,
        "findings": [dataclasses.asdict(f) for f in side.findings],
        "figures": {name: {src: _stats_dict(st) for src, st in by_source.items()}
                    for name, by_source in side.figures.items()},
    }


def _stats_dict(stats: SeriesStats) -> dict[str, Any]:
    return {"n": stats.n, "mean": _clean(stats.mean), "lag1": stats.lag1, "tau": stats.tau,
            "blocks": [_clean(b) for b in stats.blocks]}


def _clean(x: float) -> float | None:
    return None if not math.isfinite(x) else x


def write_summary(side: Side, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary_to_dict(side), indent=1) + "\n", encoding="utf-8")
    except OSError as e:
        raise InputError(str(path), f"cannot write: {e.strerror or e}") from None


def read_summary(path: Path) -> Side:
    """Read a saved summary; any malformed field is an InputError naming the file and field."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InputError(str(path), f"not valid JSON: {e}") from None
    try:
        return _side_from_dict(doc, str(path))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise InputError(str(path), f"not a valid baseline summary: {type(e).__name__}: {e}",
                         ) from None


def _side_from_dict(doc: Any, where: str) -> Side:
    if not isinstance(doc, dict) or doc.get("kind") != SUMMARY_KIND:
        raise ValueError(f"'kind' is not {SUMMARY_KIND!r}")
    if doc.get("schema_version") != SUMMARY_VERSION:
        raise ValueError(f"schema_version {doc.get('schema_version')!r} is not "
                         f"{SUMMARY_VERSION} (save the baseline again with this version)")
    bed = doc["testbed"]
    testbed = Testbed(tuple(str(m) for m in bed["gpu_models"]), int(bed["gpus"]),
                      int(bed["hosts"]))
    figures: dict[str, dict[str, SeriesStats]] = {}
    for name, by_source in dict(doc["figures"]).items():
        for src, st in dict(by_source).items():
            blocks = tuple(_number(b) for b in st["blocks"])
            figures.setdefault(str(name), {})[str(src)] = SeriesStats(
                int(st["n"]), _number(st["mean"]), float(st["lag1"]), float(st["tau"]), blocks)
    findings = tuple(FindingDigest(str(f["id"]), str(f["severity"]),
                                   None if f["gpu_time_lost"] is None
                                   else float(f["gpu_time_lost"]),
                                   tuple(str(e) for e in f.get("entities", ())))
                     for f in doc["findings"])
    sources = tuple(SourceFile(str(s["path"]), str(s["sha256"])) for s in doc["sources"])
    hits = {str(k): int(v) for k, v in dict(doc.get("window_hits", {})).items()}
    return Side(f"baseline {where}", sources, testbed, figures, findings, int(doc["windows"]),
                hits, str(doc.get("tool_version", "unknown")))


def _number(x: Any) -> float:
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a number, not {x!r}")
    return float(x)
