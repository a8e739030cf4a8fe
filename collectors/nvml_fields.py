"""One batched nvmlDeviceGetFieldValues call per GPU per tick, and what its fields become.

Each element carries its own nvmlReturn, checked before its value is read (nvml.md section 4);
a failing element is reported to the collector's policy through `on_error`, which may retire the
field or, for a lost GPU, re-raise. Counters (throttle durations in ns, NVLink KiB) become rates
over the fields' own timestamps (integer µs, so intervals are exact); several fields of one
metric (SW and HW thermal slowdown) are summed, and ratios are capped at 1.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from collectors.base import Rates, SampleBuffer
from collectors.nvml_common import Signal, Source, catalog_metric, scale
from profiler.catalog import NVML, metric

# c_nvmlValue_t member by NVML_VALUE_TYPE_* (0 double ... 6 unsigned short).
VALUE_MEMBERS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")
ALL_LINKS = 0xFFFFFFFF  # scopeId: the sum over every NVLink

# Field-value outside names the collector asks for (catalog entries that carry a field_id).
FIELD_NAMES: tuple[str, ...] = tuple(e.name for e in NVML if e.field_id is not None)
NVLINK_FIELD_NAMES = ("NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX",
                      "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX")


@dataclass(eq=False, slots=True, kw_only=True)
class FieldSpec(Source):
    """One element of the batch: field id, scope, and the metric group its value feeds."""

    field_id: int
    scope: int | None
    group: int
    counter: bool
    key: tuple[str, int, int]


@functools.cache
def plain(struct: type[ctypes.Structure]) -> type[ctypes.Structure]:
    """The same layout as a pynvml struct, without its per-attribute Python hooks.

    pynvml's _PrintableStructure runs Python code on every attribute read; reading the batch
    through a view of this type costs a C-level access per field instead.
    """
    return type(f"Plain{struct.__name__}", (ctypes.Structure,), {"_fields_": struct._fields_})


@dataclass(frozen=True, slots=True)
class _Group:
    metric: str
    scale: float
    cap: float


class FieldSet:
    """The field-values batch of one GPU; `signal` is what the collector runs each tick."""

    def __init__(self, nv: ModuleType, handle: Any, entity: str, rates: Rates,
                 on_error: Callable[[FieldSpec, BaseException], None]) -> None:
        self._nv = nv
        self._get = nv.nvmlDeviceGetFieldValues
        self._handle = handle
        self._entity = entity
        self._rate = rates.rate
        self._on_error = on_error
        self._groups: list[_Group] = []
        self._group_of: dict[str, int] = {}
        self.specs: list[FieldSpec] = []
        self._ids: list[tuple[int, int]] = []
        self._plain = plain(nv.c_nvmlFieldValue_t)
        self._view: Any = self._plain * 0
        self.signal = Signal(call="nvmlDeviceGetFieldValues", metrics=(), read=self.read,
                             origin="fields")

    def add(self, outside_name: str, scope: int | None = None) -> None:
        entry = next(e for e in NVML if e.name == outside_name)
        field_id = getattr(self._nv, outside_name)
        name = catalog_metric(outside_name)
        group = self._group_of.get(name)
        if group is None:
            ratio = metric(name).unit == "ratio"
            factor = scale(outside_name) * (1e6 if entry.counter else 1.0)  # counters: per µs
            group = self._group_of[name] = len(self._groups)
            self._groups.append(_Group(name, factor, 1.0 if ratio else float("inf")))
        self.specs.append(FieldSpec(
            call=f"nvmlDeviceGetFieldValues({outside_name})", metrics=(name,), origin="fields",
            field_id=field_id, scope=scope, group=group, counter=entry.counter,
            key=(self._entity, field_id, ALL_LINKS if scope is None else scope)))
        self._rebuild()

    def remove(self, spec: FieldSpec) -> tuple[str, ...]:
        """Stop asking for `spec`; returns the metrics no remaining field provides."""
        self.specs = [s for s in self.specs if s is not spec]
        self._rebuild()
        left = {m for s in self.specs for m in s.metrics}
        return tuple(m for m in spec.metrics if m not in left)

    def _rebuild(self) -> None:
        # Always (id, scope): scope 0 is what pynvml sends for a bare id, and a tuple spares
        # pynvml a TypeError per element while it fills the request.
        self._ids = [(s.field_id, s.scope or 0) for s in self.specs]
        self._view = self._plain * len(self.specs)
        self.signal.metrics = tuple(dict.fromkeys(m for s in self.specs for m in s.metrics))

    def read(self, buf: SampleBuffer) -> None:
        specs = self.specs
        if not specs:
            return
        values = self._view.from_buffer(self._get(self._handle, self._ids))
        acc: list[float | None] = [None] * len(self._groups)
        now_us = buf.now_ns // 1000
        for spec, v in zip(specs, values, strict=False):
            ret = v.nvmlReturn
            if ret:
                self._on_error(spec, self._nv.NVMLError(ret))
                continue
            if spec.fails:
                spec.fails = 0
            kind = v.valueType
            if kind >= len(VALUE_MEMBERS):
                continue
            raw = getattr(v.value, VALUE_MEMBERS[kind])
            if spec.counter:
                stamp = v.timestamp  # µs since the epoch; a field without one uses the tick's
                raw = self._rate(spec.key, stamp or now_us, raw)
                if raw is None:
                    continue
                prev = acc[spec.group]
                acc[spec.group] = raw if prev is None else prev + raw
            else:
                acc[spec.group] = raw
        entity = self._entity
        add = buf.add
        for group, value in zip(self._groups, acc, strict=True):
            if value is not None:
                value *= group.scale
                add(entity, group.metric, value if value < group.cap else group.cap)
