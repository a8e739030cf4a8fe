"""GPM (Hopper and newer): SM activity, occupancy, tensor/DRAM/FP pipes, PCIe and NVLink rates.

NVML computes each value from two snapshots, as an average over the time between them
(nvml.md section 3.2), so the first call only takes a snapshot and each later one, at most once
per `period_ns`, yields metrics for the interval since the last. Two samples are allocated once
and swapped; one c_nvmlGpmMetricsGet_t per GPU is reused. GPM percentages become ratios and
MiB/s become bytes/s with the catalog's scales.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from collectors.base import SampleBuffer
from collectors.nvml_common import Signal, Source, catalog_metric, scale
from collectors.nvml_fields import plain

# NVML documents a minimum interval between the two samples (~100 ms, nvml.md section 3.2).
MIN_INTERVAL_NS = 100_000_000


@dataclass(eq=False, slots=True, kw_only=True)
class GpmSpec(Source):
    metric_id: int
    scale: float


class Gpm:
    """The GPM state of one GPU; `signal` is what the collector runs on slow ticks."""

    def __init__(self, nv: ModuleType, handle: Any, entity: str, period_ns: int,
                 on_error: Callable[[GpmSpec, BaseException], None]) -> None:
        self._nv = nv
        self._handle = handle
        self._entity = entity
        self._period_ns = max(period_ns, MIN_INTERVAL_NS)
        self._on_error = on_error
        self._sample_get = nv.nvmlGpmSampleGet
        self._metrics_get = nv.nvmlGpmMetricsGet
        self._samples: list[Any] = []
        self._samples.append(nv.nvmlGpmSampleAlloc())
        self._samples.append(nv.nvmlGpmSampleAlloc())
        self._mg = nv.c_nvmlGpmMetricsGet_t()
        # The metrics array seen without pynvml's per-attribute hooks (see nvml_fields.plain).
        metric_view = plain(nv.c_nvmlGpmMetric_t) * nv.NVML_GPM_METRIC_MAX
        self._metrics = metric_view.from_buffer(self._mg, nv.c_nvmlGpmMetricsGet_t.metrics.offset)
        self._t_prev: int | None = None
        self.specs: list[GpmSpec] = []
        self.signal = Signal(call="nvmlGpmSampleGet", metrics=(), read=self.read, origin="gpm")

    def add(self, outside_name: str) -> None:
        name = catalog_metric(outside_name)
        if self.provides(name):
            return
        self.specs.append(GpmSpec(call=f"nvmlGpmMetricsGet({outside_name})", metrics=(name,),
                                  origin="gpm", metric_id=getattr(self._nv, outside_name),
                                  scale=scale(outside_name)))
        self._rebuild()

    def provides(self, name: str) -> bool:
        return name in self.signal.metrics

    def remove(self, spec: GpmSpec) -> tuple[str, ...]:
        self.specs = [s for s in self.specs if s is not spec]
        self._rebuild()
        return spec.metrics

    def remove_metrics(self, names: tuple[str, ...]) -> None:
        self.specs = [s for s in self.specs if s.metrics[0] not in names]
        self._rebuild()

    def _rebuild(self) -> None:
        self.signal.metrics = tuple(s.metrics[0] for s in self.specs)

    def read(self, buf: SampleBuffer) -> None:
        now = buf.now_ns
        prev, cur = self._samples
        if self._t_prev is None:
            self._sample_get(self._handle, prev)
            self._t_prev = now
            return
        if now - self._t_prev < self._period_ns or not self.specs:
            return
        self._sample_get(self._handle, cur)
        mg = self._mg
        mg.version = self._nv.NVML_GPM_METRICS_GET_VERSION
        mg.numMetrics = len(self.specs)
        mg.sample1 = prev
        mg.sample2 = cur
        metrics = self._metrics
        for i, spec in enumerate(self.specs):
            metrics[i].metricId = spec.metric_id
        self._metrics_get(mg)
        self._samples.reverse()
        self._t_prev = now
        entity = self._entity
        add = buf.add
        for i, spec in enumerate(self.specs):
            m = metrics[i]
            ret = m.nvmlReturn
            if ret:
                self._on_error(spec, self._nv.NVMLError(ret))
                continue
            if spec.fails:
                spec.fails = 0
            add(entity, spec.metrics[0], m.value * spec.scale)

    def close(self, errors: tuple[type[BaseException], ...]) -> None:
        for sample in self._samples:
            # Freeing after shutdown or on a lost GPU: nothing is left to release.
            with contextlib.suppress(*errors):
                self._nv.nvmlGpmSampleFree(sample)
        self._samples = []
