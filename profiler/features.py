"""Features: a trace put on one time grid, computed once and shared by every rule.

Each metric becomes a wide frame: rows are grid bins (the trace's sample interval), columns are
entity labels as findings name them ("node1/gpu0", "node1/nvme0n1", and "node1" for host-wide
metrics), values are the mean of the samples in the bin (NaN where there were none). Everything
is numpy over whole columns: the only Python loops run over metrics, hosts or entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from profiler.catalog import HOST_ENTITY, METRICS, EntityKind
from profiler.trace import Trace, infer_interval

MIN_STEP_S = 0.05


def _dense_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like np.unique(codes, return_inverse=True) for small non-negative ints, in O(n)."""
    present = np.flatnonzero(np.bincount(codes))
    lookup = np.zeros(int(present[-1]) + 1 if len(present) else 0, dtype="int64")
    lookup[present] = np.arange(len(present))
    return present, lookup[codes]


def _runs_if_grouped(codes: np.ndarray) -> list[tuple[int, int, int]] | None:
    """(code, start, end) of each run of equal codes when every code forms a single run."""
    if len(codes) == 0:
        return []
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1))
    run_codes = codes[starts]
    if len(np.unique(run_codes)) != len(run_codes):
        return None
    ends = np.concatenate((starts[1:], [len(codes)]))
    return [(int(c), int(a), int(b)) for c, a, b in zip(run_codes, starts, ends, strict=True)]


def _or_per_bin(flat: np.ndarray, bits: np.ndarray, size: int) -> np.ndarray:
    """Bitwise OR of the samples in each bin (NaN where none): averaging 0x20 and 0 would read
    as 0x10, a different reason. One bincount per bit that occurs, not a loop over samples."""
    out = np.zeros(size, dtype="int64")
    present = int(np.bitwise_or.reduce(bits)) if len(bits) else 0
    bit = 1
    while present >= bit:
        if present & bit:
            hits = np.bincount(flat, weights=(bits & bit) != 0, minlength=size)
            out[hits > 0] |= bit
        bit <<= 1
    counts = np.bincount(flat, minlength=size)
    return np.where(counts > 0, out.astype("float64"), np.nan)


def entity_label(host: str, entity: str) -> str:
    """How findings name an entity: "HOST" for host-wide metrics, else "HOST/ENTITY"."""
    return host if entity == HOST_ENTITY else f"{host}/{entity}"


def host_of(label: str) -> str:
    return label.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class CoOccurrence:
    """How GPU idleness lines up in time with a candidate cause.

    lost: GPU-idle time that coincides with the cause, as a fraction of all GPU-time.
    idle_with / idle_without: mean idle share of GPU-bins with and without the cause present.
    cause_share: fraction of GPU-bins in which the cause is present.
    idle_covered: fraction of all GPU idle time that falls in bins with the cause present.
    """

    lost: float
    idle_with: float
    idle_without: float
    cause_share: float
    idle_covered: float

    @property
    def lift(self) -> float:
        """How much idler GPUs are when the cause is present (idle_with - idle_without)."""
        if np.isnan(self.idle_without):
            return self.idle_with
        return self.idle_with - self.idle_without


class Features:
    """Grid-aligned views of one Trace, cached per metric."""

    def __init__(self, trace: Trace, step_s: float | None = None) -> None:
        self.trace = trace
        samples = trace.samples
        native = trace.meta.interval_s or infer_interval(samples) or 1.0
        self.step_s = max(float(step_s or native), MIN_STEP_S)
        self._cache: dict[object, pd.DataFrame] = {}
        self._columns: dict[str, list[str]] = {}
        if samples.empty:
            self._empty = True
            self.n_bins = 0
            self.t0 = pd.Timestamp(0, tz="UTC")
            self._present: set[str] = set()
            self._slices: dict[str, tuple[int, int]] = {}
            self._labels: dict[str, list[str]] = {}
            return
        self._empty = False
        if not all(isinstance(samples[c].dtype, pd.CategoricalDtype)
                   for c in ("host", "entity", "metric")):
            samples = samples.astype({"host": "category", "entity": "category",
                                      "metric": "category"})
        # Views, not copies: a day of 8 GPUs is ~25 M rows, so per-row arrays are built lazily,
        # one metric at a time.
        self._ts = samples["ts"].array.asi8
        self._host_codes = samples["host"].cat.codes.to_numpy()
        self._entity_codes = samples["entity"].cat.codes.to_numpy()
        self._host_cats = [str(h) for h in samples["host"].cat.categories]
        self._entity_cats = [str(e) for e in samples["entity"].cat.categories]
        self._values = samples["value"].to_numpy(dtype="float64")
        t0 = int(self._ts.min())
        self._t0_ns = t0
        self._step_ns = round(self.step_s * 1e9)
        # Samples sit on a grid of the native interval, late by a little jitter: shifting by half
        # a native interval puts each in its own bin (or m consecutive ones in a coarser bin).
        self._half_native_ns = round(native * 1e9 / 2)
        self.n_bins = int((int(self._ts.max()) - t0 + self._half_native_ns) // self._step_ns) + 1
        self.t0 = pd.Timestamp(t0, unit="ns", tz="UTC")
        codes = samples["metric"].cat.codes.to_numpy()
        metric_names = [str(m) for m in samples["metric"].cat.categories]
        runs = _runs_if_grouped(codes)
        n_entities = len(self._entity_cats)
        if runs is not None:
            # Rows already grouped by metric (a finalized trace on disk): slices are views.
            self._order: np.ndarray | None = None
            self._slices = {metric_names[c]: (a, b) for c, a, b in runs}
            ts = self._ts
            self._sorted_values = self._values
            self._combos = self._host_codes.astype("int32")
            self._combos *= n_entities
            self._combos += self._entity_codes
        else:
            order = np.argsort(codes, kind="stable")  # radix sort on small integer codes
            counts = np.bincount(codes, minlength=len(metric_names))
            ends = np.cumsum(counts)
            self._slices = {name: (int(end - n), int(end))
                            for name, n, end in zip(metric_names, counts, ends, strict=True)
                            if n > 0}
            # Gathered once in metric order, so each metric's rows are one contiguous slice.
            self._order = order.astype("int32" if len(order) < 2**31 else "int64")
            del order
            ts = self._ts[self._order]
            self._sorted_values = self._values[self._order]
            self._combos = (self._host_codes[self._order].astype("int32") * n_entities
                            + self._entity_codes[self._order])
        self._present = set(self._slices)
        bins = ts - t0  # in place from here on: a day of samples is ~250 MB per int64 copy
        del ts
        bins += self._half_native_ns
        bins //= self._step_ns
        self._bins = bins.astype("int32") if self.n_bins < 2**31 else bins
        del bins
        self._labels = self._labels_per_metric()

    def _label(self, combo: int) -> str:
        host, entity = divmod(combo, len(self._entity_cats))
        return entity_label(self._host_cats[host], self._entity_cats[entity])

    def _labels_per_metric(self) -> dict[str, list[str]]:
        """Entity labels each metric has samples for."""
        labels = {}
        for metric, (start, end) in self._slices.items():
            seen = np.flatnonzero(np.bincount(self._combos[start:end]))
            labels[metric] = sorted(self._label(c) for c in seen.tolist())
        return labels

    # --- basics --------------------------------------------------------------------------------

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.t0 + pd.to_timedelta(np.arange(self.n_bins) * self.step_s,
                                                          unit="s"))

    @property
    def duration_s(self) -> float:
        return self.n_bins * self.step_s

    @property
    def is_live_recording(self) -> bool:
        """Did the recorder see this node's processes (what live-only rules need)? True for our
        own recordings, replayed or not, and for any trace that carries process placement."""
        return self.trace.meta.source == "record" or bool(self.trace.meta.processes)

    def has(self, metric: str) -> bool:
        return metric in self._present

    def wide(self, metric: str) -> pd.DataFrame:
        """Bins x entities of `metric` (bin means); an empty frame when the metric is absent."""
        key = ("wide", metric)
        if key not in self._cache:
            self._cache[key] = self._build_wide(metric)
        return self._cache[key]

    def _build_wide(self, metric: str) -> pd.DataFrame:
        if metric not in self._slices:
            return pd.DataFrame(index=self.index, dtype="float64")
        start, end = self._slices[metric]
        cols, local = _dense_codes(self._combos[start:end])
        flat = local * self.n_bins + self._bins[start:end]
        size = len(cols) * self.n_bins
        values = self._sorted_values[start:end]
        finite = np.isfinite(values)
        if METRICS.get(metric) is not None and METRICS[metric].unit == "bitmask":
            means = _or_per_bin(flat[finite], values[finite].astype("int64"), size)
        else:
            sums = np.bincount(flat[finite], weights=values[finite], minlength=size)
            counts = np.bincount(flat[finite], minlength=size)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        labels = [self._label(int(c)) for c in cols]
        frame = pd.DataFrame(means.reshape(len(cols), self.n_bins).T, index=self.index,
                             columns=labels)
        return frame.reindex(columns=sorted(labels))

    def long(self, metric: str) -> pd.DataFrame:
        """Every raw sample of `metric` (not binned), in time order: label, ts (ns), value."""
        key = ("long", metric)
        if key not in self._cache:
            if metric not in self._slices:
                frame = pd.DataFrame({"label": pd.Series([], dtype=object),
                                      "ts": np.empty(0, "int64"), "value": np.empty(0)})
            else:
                start, end = self._slices[metric]
                rows = (self._order[start:end] if self._order is not None
                        else np.arange(start, end))
                in_time = np.argsort(self._ts[rows], kind="stable")
                rows = rows[in_time]
                cols, local = _dense_codes(self._combos[start:end][in_time])
                names = np.asarray([self._label(int(c)) for c in cols], dtype=object)
                frame = pd.DataFrame({"label": names[local], "ts": self._ts[rows],
                                      "value": self._values[rows]})
            self._cache[key] = frame
        return self._cache[key]

    def columns(self, kind: EntityKind) -> list[str]:
        """Entity labels that have at least one metric of this kind."""
        if kind not in self._columns:
            names: set[str] = set()
            for metric in self._present:
                if metric in METRICS and METRICS[metric].kind == kind:
                    names.update(self._labels.get(metric, ()))
            self._columns[kind] = sorted(names)
        return self._columns[kind]

    @property
    def gpus(self) -> list[str]:
        return self.columns("gpu")

    @property
    def hosts(self) -> list[str]:
        kinds: tuple[EntityKind, ...] = ("gpu", "host", "disk", "nic", "link", "cpu")
        return sorted({host_of(c) for kind in kinds for c in self.columns(kind)})

    # --- statistics per entity -----------------------------------------------------------------

    def mean(self, metric: str) -> pd.Series:
        return self.wide(metric).mean()

    def quantile(self, metric: str, q: float) -> pd.Series:
        return self.wide(metric).quantile(q)

    def share_at_least(self, metric: str, threshold: float) -> pd.Series:
        """Per entity: the fraction of observed bins where the metric is >= threshold."""
        frame = self.wide(metric)
        return (frame >= threshold).sum() / frame.notna().sum().replace(0, np.nan)

    def ratio(self, numerator: str, denominator: str) -> pd.DataFrame:
        """numerator / denominator per entity and bin, where both are present and > 0."""
        num, den = self.wide(numerator), self.wide(denominator)
        den = den.where(den > 0)
        common = num.columns.intersection(den.columns)
        return num[common] / den[common]

    # --- hosts and GPUs aligned ----------------------------------------------------------------

    def per_host(self, metric: str, how: Literal["max", "sum", "mean"] = "max") -> pd.DataFrame:
        """Bins x hosts: the metric aggregated over each host's entities (e.g. max disk.busy)."""
        frame = self.wide(metric)
        if frame.empty:
            return pd.DataFrame(index=self.index, dtype="float64")
        grouped = frame.T.groupby([host_of(c) for c in frame.columns])
        if how == "sum":
            return grouped.sum(min_count=1).T
        return (grouped.max() if how == "max" else grouped.mean()).T

    def for_gpus(self, host_frame: pd.DataFrame) -> pd.DataFrame:
        """Spread a bins x hosts frame onto the GPU columns (each GPU takes its host's column)."""
        columns = {g: host_frame[host_of(g)] if host_of(g) in host_frame.columns
                   else pd.Series(np.nan, index=self.index) for g in self.gpus}
        return pd.DataFrame(columns, index=self.index)

    # --- GPU activity --------------------------------------------------------------------------

    def gpu_util(self) -> pd.DataFrame:
        """Share of each bin a kernel ran on each GPU (gpu.util, else gr_engine_active)."""
        key = ("gpu_util",)
        if key not in self._cache:
            util = self.wide("gpu.util")
            engine = self.wide("gpu.gr_engine_active")
            frame = util.combine_first(engine) if not util.empty else engine
            self._cache[key] = frame.reindex(columns=self.gpus).clip(0.0, 1.0)
        return self._cache[key]

    def gpu_idle(self) -> pd.DataFrame:
        """Share of each bin each GPU ran no kernel: the GPU time that a cause can cost."""
        return 1.0 - self.gpu_util()

    def gpu_bins(self, gpus: Sequence[str] | None = None) -> int:
        """Observed GPU-bins: the denominator of every gpu_time_lost (of `gpus` only, if given:
        the denominator of a host's own share)."""
        util = self.gpu_util() if gpus is None else self.gpu_util().reindex(columns=gpus)
        return int(util.notna().to_numpy().sum())

    def lost_fraction(self, weights: pd.DataFrame) -> float:
        """Sum of per-GPU-bin lost shares over all observed GPU-bins (0..1)."""
        total = self.gpu_bins()
        if total == 0 or weights.empty:
            return 0.0
        return float(np.nansum(weights.to_numpy()) / total)

    def clock_event_bit(self, bit: int) -> pd.DataFrame:
        """1.0 where the clock-event reason `bit` is set, 0.0 where clear, NaN where unknown."""
        frame = self.wide("gpu.clocks_event_reasons")
        if frame.empty:
            return frame
        values = frame.to_numpy()
        known = np.isfinite(values)
        bits = np.zeros(values.shape, dtype="int64")
        bits[known] = values[known].astype("int64")
        set_ = np.where(known, ((bits & bit) != 0).astype("float64"), np.nan)
        return pd.DataFrame(set_, index=frame.index, columns=frame.columns)

    def bit_share(self, bit: int) -> pd.Series:
        """Per GPU: the fraction of observed bins with the clock-event reason `bit` set."""
        return self.clock_event_bit(bit).mean()

    def clock_ratio(self) -> pd.DataFrame:
        """SM clock over the GPU's maximum SM clock (from the metric, else the metadata)."""
        clock = self.wide("gpu.clock_sm")
        if clock.empty:
            return clock
        maximum = self.wide("gpu.clock_sm_max").reindex(columns=clock.columns)
        meta_max = pd.Series({c: self._meta_max_clock(c) for c in clock.columns}, dtype="float64")
        maximum = maximum.fillna(meta_max)
        return (clock / maximum.where(maximum > 0)).clip(upper=1.0)

    def _meta_max_clock(self, label: str) -> float:
        host, _, entity = label.partition("/")
        info = self.trace.meta.gpu(host, entity)
        return float(info.max_sm_clock) if info and info.max_sm_clock else np.nan

    # --- co-occurrence -------------------------------------------------------------------------

    def cooccurrence(self, cause: pd.DataFrame, idle: pd.DataFrame | None = None) -> CoOccurrence:
        """How GPU idleness (default: gpu_idle()) lines up with a GPU-aligned boolean cause."""
        idle = self.gpu_idle() if idle is None else idle
        cause = cause.reindex(index=idle.index, columns=idle.columns)
        i = idle.to_numpy(dtype="float64")
        c = cause.to_numpy(dtype="float64")
        valid = np.isfinite(i) & np.isfinite(c)
        if not valid.any():
            return CoOccurrence(0.0, np.nan, np.nan, 0.0, 0.0)
        iv, cv = i[valid], c[valid] > 0.5
        total = self.gpu_bins() or valid.sum()
        idle_sum = iv.sum()
        return CoOccurrence(
            lost=float(iv[cv].sum() / total),
            idle_with=float(iv[cv].mean()) if cv.any() else np.nan,
            idle_without=float(iv[~cv].mean()) if (~cv).any() else np.nan,
            cause_share=float(cv.mean()),
            idle_covered=float(iv[cv].sum() / idle_sum) if idle_sum > 0 else 0.0,
        )

    def idle_energy_j(self) -> float | None:
        """Energy the GPUs drew while idle: power x idle share x bin length, summed (joules)."""
        power = self.wide("gpu.power").reindex(columns=self.gpus)
        if power.empty or self.gpu_util().empty:
            return None
        energy = (power * self.gpu_idle()).to_numpy()
        return float(np.nansum(energy) * self.step_s)
