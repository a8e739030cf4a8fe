"""PyTorch profiler traces -> a Trace: the analyses, plus the GPU timeline as samples.

The samples (`timeline.gpu_busy`, `timeline.compute_busy` per rank's GPU, on a grid of at least
50 ms) let the report show the window and the engine choose the timeline variants of the rules;
the rules themselves read the exact analyses kept in `trace.analyses["pytorch"]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from profiler.pytorch import kinds
from profiler.pytorch.analysis import TorchAnalysis, analyse
from profiler.pytorch.intervals import merge
from profiler.pytorch.reader import RankEvents, read_ranks, sniff, trace_files
from profiler.trace import GpuInfo, HostInfo, Trace, TraceMeta, empty_samples, normalize_samples

ANALYSIS_KEY = "pytorch"
MIN_BIN_S = 0.05  # Features' finest grid
MAX_BINS = 2000


def detect(path: Path) -> bool:
    """A Kineto trace file, or a directory holding some."""
    if path.is_dir():
        return any(sniff(p) for p in path.iterdir())
    return sniff(path)


def load(path: Path) -> Trace:
    return load_group([path])


def load_group(paths: Sequence[Path]) -> Trace:
    """Files and directories of one job, one trace per rank -> one Trace."""
    events = read_ranks([f for p in paths for f in trace_files(Path(p))])
    analysis = analyse(events)
    samples, interval_s = _samples(events, analysis)
    return Trace(samples, _meta(analysis, events, samples, interval_s),
                 analyses={ANALYSIS_KEY: analysis})


def _samples(events: Sequence[RankEvents],
             analysis: TorchAnalysis) -> tuple[pd.DataFrame, float | None]:
    starts = [r.origin_ns + int(r.frame["ts"].min()) for r in events if len(r.frame)]
    ends = [r.origin_ns + int((r.frame["ts"] + r.frame["dur"]).max()) for r in events
            if len(r.frame)]
    if not starts:
        return empty_samples(), None
    t0, t1 = min(starts), max(ends)
    step_ns = max(int(MIN_BIN_S * 1e9), -(-(t1 - t0) // MAX_BINS))
    edges = np.arange(t0, t1 + step_ns, step_ns, dtype=np.int64)
    frames = []
    for r in events:
        f = r.frame
        gpu = f["stream"].to_numpy() != -1
        if not gpu.any():
            continue
        ts = f["ts"].to_numpy()[gpu] + r.origin_ns
        end = ts + np.maximum(f["dur"].to_numpy()[gpu], 0)
        comp = kinds.kernel_types(r.names)[f["name"].cat.codes.to_numpy()[gpu]] == \
            kinds.COMPUTATION
        host, entity = analysis.info(r.rank).entity.split("/", 1)
        lo_i, hi_i = np.searchsorted(edges, [ts.min(), end.max()], side="right") - 1
        lo, hi = edges[lo_i:hi_i + 1], edges[lo_i:hi_i + 1] + step_ns
        for metric, m in (("timeline.gpu_busy", merge(ts, end)),
                          ("timeline.compute_busy", merge(ts[comp], end[comp]))):
            frames.append(pd.DataFrame({
                "ts": pd.to_datetime(lo, unit="ns", utc=True), "host": host, "entity": entity,
                "metric": metric, "value": m.covered(lo, hi) / step_ns}))
    if not frames:
        return empty_samples(), None
    return normalize_samples(pd.concat(frames, ignore_index=True)), step_ns / 1e9


def _meta(analysis: TorchAnalysis, events: Sequence[RankEvents], samples: pd.DataFrame,
          interval_s: float | None) -> TraceMeta:
    gpus = []
    for info in analysis.ranks:
        host, entity = info.entity.split("/", 1)
        dev = next((d for d in _devices(events, info.rank)
                    if f"gpu{d.get('id')}" == entity), {})
        mem = dev.get("totalGlobalMem")
        gpus.append(GpuInfo(host, entity, int(entity.removeprefix("gpu")),
                            name=info.device_name,
                            memory_total=float(mem) if isinstance(mem, int | float) else None))
    started = None if samples.empty else samples["ts"].min().isoformat()
    ended = None if samples.empty else samples["ts"].max().isoformat()
    return TraceMeta(source="pytorch", interval_s=interval_s, started=started, ended=ended,
                     hosts=tuple(HostInfo(i.entity.split("/", 1)[0]) for i in analysis.ranks),
                     gpus=tuple(gpus),
                     labels={f"rank{i.rank}": i.path for i in analysis.ranks})


def _devices(events: Sequence[RankEvents], rank: int) -> list[dict[str, object]]:
    return next((r.devices for r in events if r.rank == rank), [])
