"""The library facade: everything the CLI does, importable.

    from profiler import api
    trace = api.record(duration_s=10, interval_s=0.5)
    report = api.diagnose(trace)
    print(api.render(report, "text"))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from profiler.config import Config
from profiler.diagnosis import diagnose as _diagnose
from profiler.importers.options import ImportOptions
from profiler.loaders import load_many
from profiler.recorder import Progress, Recorder, local_host_name, stop_on_signals
from profiler.report import Report, SourceInfo
from profiler.reports import render
from profiler.storage import read_trace, write_trace
from profiler.trace import Trace

__all__ = ["ImportOptions", "diagnose", "import_files", "load", "read_trace", "record",
           "render", "write_trace"]


def load(paths: Sequence[str | os.PathLike[str]],
         options: ImportOptions | None = None) -> tuple[Trace, SourceInfo]:
    """Read recordings of any supported format (the format is found from the content)."""
    trace, formats = load_many([Path(p) for p in paths], options)
    return trace, SourceInfo("files", files=tuple(str(p) for p in paths), formats=formats)


def import_files(paths: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                 options: ImportOptions | None = None) -> Trace:
    """Convert other tools' recordings (nvidia-smi, dmon, dcgmi, Prometheus) into one trace."""
    trace, _ = load(paths, options)
    write_trace(trace, output)
    return trace


def record(
    *,
    duration_s: float | None = None,
    interval_s: float = 1.0,
    flush_s: float = 5.0,
    output: str | os.PathLike[str] | None = None,
    on_tick: Callable[[Progress], None] | None = None,
    handle_signals: bool = True,
) -> Trace:
    """Sample this node with every collector; with `output`, write a crash-safe trace there."""
    from collectors import default_collectors

    recorder = Recorder(default_collectors(), interval_s=interval_s, flush_s=flush_s,
                        output=output)
    if not handle_signals:
        return recorder.run(duration_s, on_tick)
    with stop_on_signals(recorder):
        return recorder.run(duration_s, on_tick)


def diagnose(trace: Trace, source: SourceInfo | None = None,
             config: Config | None = None) -> Report:
    """Rank the bottlenecks in a trace."""
    config = config or Config()
    source = source or SourceInfo("live", host=local_host_name())
    return _diagnose(trace, source=source, settings=config.rules,
                     price_per_gpu_hour=config.gpu_hour_price)

