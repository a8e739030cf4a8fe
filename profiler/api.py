"""The library facade: everything the CLI does, importable.

    from profiler import api
    trace = api.record(duration_s=10, interval_s=0.5)
    report = api.diagnose(trace)
    print(api.render(report, "text"))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from profiler.config import Config
from profiler.diagnosis import diagnose as _diagnose
from profiler.errors import UsageError
from profiler.importers.options import ImportOptions
from profiler.importers.prom_http import Auth, PromClient, Stats
from profiler.loaders import load_many
from profiler.recorder import Progress, Recorder, local_host_name, stop_on_signals
from profiler.report import Report, SourceInfo
from profiler.reports import render
from profiler.storage import read_trace, write_trace
from profiler.trace import Trace

__all__ = ["Auth", "ImportOptions", "diagnose", "import_files", "load", "prometheus",
           "read_trace", "record", "render", "write_trace"]


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


def prometheus(url: str, start: str, end: str = "now", *, step: str = "15s",
               match: str | None = None, aggregate: bool = False, points: int = 60,
               auth: Auth | None = None, ca_file: str | os.PathLike[str] | None = None,
               insecure: bool = False, timeout_s: float = 30.0, retries: int = 2,
               ) -> tuple[Trace, SourceInfo, Stats]:
    """Pull dcgm-exporter and node_exporter series of every matching host from Prometheus.

    Times: RFC 3339, Unix seconds, "now" or relative ("-2h"); `step` like "15s".
    Returns the trace, where it came from, and what the pull cost (requests, bytes, points).
    """
    from profiler.importers.prom_live import RangeQuery, pull
    from profiler.importers.times import parse_duration, parse_time

    if points < 1 or timeout_s <= 0 or retries < 0:
        raise UsageError("--points must be 1 or more, --timeout more than 0, --retries 0 or "
                         "more")
    now = time.time()
    query = RangeQuery(parse_time(start, option="--start", now=now),
                       parse_time(end, option="--end", now=now),
                       parse_duration(step, option="--step"), match=match, aggregate=aggregate,
                       points=points)
    client = PromClient(url, auth=auth, ca_file=Path(ca_file) if ca_file else None,
                        insecure=insecure, timeout_s=timeout_s, retries=retries)
    trace = pull(client, query)
    return trace, SourceInfo("files", files=(client.url,), formats=("prometheus",)), client.stats


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

