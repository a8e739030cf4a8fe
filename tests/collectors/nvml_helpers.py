"""Drive an NvmlCollector over a fake NVML on a clock the test controls."""

from __future__ import annotations

import pandas as pd

from collectors.base import SampleBuffer
from collectors.nvml import NvmlCollector
from profiler.trace import Absence
from tests.fake_pynvml import FakeNvml

START_S = 1_000_000.0  # whole seconds: field timestamps (µs) and tick times stay exact


class Run:
    """One collector, opened on `fake`; `tick()` advances the fake clock and samples."""

    def __init__(self, fake: FakeNvml, collector: NvmlCollector | None = None,
                 start_s: float = START_S) -> None:
        self.fake = fake
        self.collector = collector or NvmlCollector(event_wait_ms=20)
        self.buf = SampleBuffer("node1")
        self.t = start_s
        self.samples: list[pd.DataFrame] = []
        self.events: list[pd.DataFrame] = []
        fake.clock_s = start_s
        self.collector.open("node1")

    def tick(self, n: int = 1, step_s: float = 1.0) -> Run:
        for _ in range(n):
            self.fake.clock_s = self.t
            self.buf.begin_tick(round(self.t * 1e9))
            self.collector.sample(self.buf)
            self.t += step_s
        return self

    def frame(self) -> pd.DataFrame:
        samples, events = self.buf.take()
        self.samples.append(samples)
        self.events.append(events)
        frames = [f for f in self.samples if not f.empty]
        if not frames:
            return samples
        return pd.concat([f.astype({"entity": str, "metric": str, "host": str}) for f in frames],
                         ignore_index=True)

    def event_frame(self) -> pd.DataFrame:
        self.frame()
        frames = [f for f in self.events if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else self.events[-1]

    def values(self, entity: str, metric: str) -> list[float]:
        f = self.frame()
        if f.empty:
            return []
        rows = f[(f["entity"] == entity) & (f["metric"] == metric)]
        return [float(v) for v in rows["value"]]

    def metrics(self, entity: str) -> set[str]:
        f = self.frame()
        return set() if f.empty else set(f.loc[f["entity"] == entity, "metric"])

    def absence(self, metric: str, entity: str | None = None) -> Absence | None:
        """The recorded absence that covers `metric` on `entity` (or on every entity)."""
        for a in self.collector.absences():
            if a.covers(metric) and a.entity in (entity, None):
                return a
        return None

    def close(self) -> None:
        self.collector.close()
