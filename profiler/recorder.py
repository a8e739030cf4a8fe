"""The sampler drives every collector at one interval; the recorder flushes what it samples to disk.

Timestamps are wall-clock UTC; the schedule runs on the monotonic clock so it does not drift, and
ticks that fall behind are skipped rather than bunched. The recorder measures its own CPU time
(process time while sampling) and writes it into the trace metadata.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pandas as pd

from collectors.base import Collector, SampleBuffer
from profiler.errors import UsageError
from profiler.storage import TraceWriter, read_trace
from profiler.trace import (
    Absence,
    HostInfo,
    Overhead,
    Trace,
    TraceMeta,
    empty_events,
    empty_samples,
    normalize_events,
    normalize_samples,
)

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.05
MAX_FAULTS_BEFORE_DISABLE = 5


def local_host_name() -> str:
    name: str = socket.gethostname().split(".")[0]
    return name or "localhost"


def _iso(ts_ns: int) -> str:
    text: str = pd.Timestamp(ts_ns, unit="ns", tz="UTC").isoformat()
    return text


class Sampler:
    """Samples every collector once per `tick`, isolating a faulty collector from the others."""

    def __init__(self, collectors: Sequence[Collector], host: str) -> None:
        self.collectors = list(collectors)
        self.host = host
        self.buffer = SampleBuffer(host)
        self._faults: dict[str, int] = {}
        self._disabled: dict[str, list[Absence]] = {}

    def open(self) -> None:
        for collector in self.collectors:
            try:
                collector.open(self.host)
            except Exception as e:  # a collector that cannot start must not stop the others
                self._disable(collector, f"{collector.name} collector could not start: "
                                         f"{type(e).__name__}: {e}")

    def tick(self, ts_ns: int | None = None) -> None:
        self.buffer.begin_tick(ts_ns if ts_ns is not None else time.time_ns())
        for collector in self.collectors:
            if collector.name in self._disabled:
                continue
            try:
                collector.sample(self.buffer)
                self._faults[collector.name] = 0
            except Exception as e:
                self._fault(collector, e)

    def _fault(self, collector: Collector, error: Exception) -> None:
        message = f"{collector.name} collector failed: {type(error).__name__}: {error}"
        log.warning(message, exc_info=log.isEnabledFor(logging.DEBUG))
        self.buffer.event(collector.name, "collector_fault", message)
        count = self._faults.get(collector.name, 0) + 1
        self._faults[collector.name] = count
        if count >= MAX_FAULTS_BEFORE_DISABLE:
            last = f"{type(error).__name__}: {error}"
            self._disable(collector, f"{collector.name} collector disabled after {count} "
                                     f"consecutive failures (last: {last})")

    def _disable(self, collector: Collector, reason: str) -> None:
        log.warning(reason)
        self._disabled[collector.name] = [Absence(m, reason, self.host, None, collector.name)
                                          for m in collector.provides]

    def close(self) -> None:
        for collector in self.collectors:
            try:
                collector.close()
            except Exception as e:
                log.warning("closing %s failed: %s", collector.name, e)

    def absences(self) -> tuple[Absence, ...]:
        found = [a for c in self.collectors for a in c.absences()]
        disabled = [a for absences in self._disabled.values() for a in absences]
        return tuple(dict.fromkeys([*found, *disabled]))

    def host_info(self) -> HostInfo:
        """This host's facts, merged from every collector (the first to know a field wins)."""
        merged = HostInfo(self.host)
        for collector in self.collectors:
            info = collector.host_info()
            if info is None:
                continue
            known = {f.name: getattr(info, f.name) for f in dataclasses.fields(HostInfo)
                     if f.name != "name" and getattr(info, f.name) is not None
                     and getattr(merged, f.name) is None}
            merged = dataclasses.replace(merged, **known)
        return merged


@dataclass(frozen=True, slots=True)
class Progress:
    """What a status line shows after each tick."""

    elapsed_s: float
    ticks: int
    cpu_percent: float


class Recorder:
    """Runs a Sampler for a duration (or until stopped), flushing to `output` every `flush_s`."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        *,
        interval_s: float = 1.0,
        flush_s: float = 5.0,
        output: str | os.PathLike[str] | None = None,
        host: str | None = None,
    ) -> None:
        if not interval_s >= MIN_INTERVAL_S:
            raise UsageError(f"--interval must be at least {MIN_INTERVAL_S} s, not {interval_s}")
        if not flush_s > 0:
            raise UsageError(f"--flush must be positive, not {flush_s}")
        self.interval_s = interval_s
        self.flush_s = flush_s
        self.output = Path(output) if output is not None else None
        self.sampler = Sampler(collectors, host or local_host_name())
        self.stop_event = threading.Event()
        self._writer: TraceWriter | None = None
        self._frames: list[pd.DataFrame] = []
        self._event_frames: list[pd.DataFrame] = []
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def stop(self) -> None:
        self.stop_event.set()

    def meta(self, *, complete: bool) -> TraceMeta:
        s = self.sampler
        wall = time.monotonic() - self._wall0 if self._wall0 else 0.0
        overhead = Overhead(time.process_time() - self._cpu0, wall, s.buffer.ticks)
        return TraceMeta(
            source="record",
            interval_s=self.interval_s,
            started=_iso(self._first_ns) if self._first_ns is not None else None,
            ended=_iso(self._last_ns) if self._last_ns is not None else None,
            complete=complete,
            hosts=(s.host_info(),),
            gpus=tuple(g for c in s.collectors for g in c.gpus()),
            processes=tuple(p for c in s.collectors for p in c.processes()),
            unavailable=s.absences(),
            overhead=overhead,
        )

    def run(self, duration_s: float | None = None,
            on_tick: Callable[[Progress], None] | None = None) -> Trace:
        """Sample until `duration_s` has passed or `stop()` is called; return the whole Trace."""
        if duration_s is not None and not duration_s > 0:
            raise UsageError(f"--duration must be positive, not {duration_s}")
        self.sampler.open()
        if self.output is not None:
            self._writer = TraceWriter(self.output, self.meta(complete=False))
        self._wall0 = time.monotonic()
        self._cpu0 = time.process_time()
        last_flush = self._wall0
        k = 0
        try:
            while not self.stop_event.is_set():
                due = self._wall0 + k * self.interval_s
                if duration_s is not None and due - self._wall0 >= duration_s - 1e-9:
                    break
                wait = due - time.monotonic()
                if wait > 0 and self.stop_event.wait(wait):
                    break
                now_ns = time.time_ns()
                self._first_ns = self._first_ns if self._first_ns is not None else now_ns
                self._last_ns = now_ns
                self.sampler.tick(now_ns)
                # Skip ticks we are too late for instead of bunching them up.
                behind = (time.monotonic() - self._wall0) / self.interval_s
                k = max(k + 1, int(behind))
                if time.monotonic() - last_flush >= self.flush_s:
                    self._flush()
                    last_flush = time.monotonic()
                if on_tick is not None:
                    on_tick(self._progress())
        finally:
            self.sampler.close()
            self._flush()
        return self._finish()

    def _progress(self) -> Progress:
        wall = time.monotonic() - self._wall0
        cpu = time.process_time() - self._cpu0
        return Progress(wall, self.sampler.buffer.ticks, 100.0 * cpu / wall if wall > 0 else 0.0)

    def _flush(self) -> None:
        samples, events = self.sampler.buffer.take()
        if self._writer is not None:
            self._writer.append(samples, events)
            self._writer.write_meta(self.meta(complete=False))
        else:
            self._frames.append(samples)
            self._event_frames.append(events)

    def _finish(self) -> Trace:
        meta = self.meta(complete=True)
        if self._writer is not None:
            self._writer.finalize(meta)
            return read_trace(self._writer.path)
        frames = [f for f in self._frames if not f.empty]
        samples = pd.concat(frames, ignore_index=True) if frames else empty_samples()
        event_frames = [f for f in self._event_frames if not f.empty]
        events = pd.concat(event_frames, ignore_index=True) if event_frames else empty_events()
        return Trace(normalize_samples(samples), meta,
                     normalize_events(events) if not events.empty else events)


@contextlib.contextmanager
def stop_on_signals(recorder: Recorder) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM stop the recorder cleanly instead of killing it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        recorder.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
