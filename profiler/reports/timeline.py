"""Chart data for the HTML report: aligned, downsampled series and where each finding's evidence is.

Display is downsampled to at most MAX_POINTS buckets per series, keeping each bucket's mean, min
and max so short spikes survive; the diagnosis itself always runs on full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from profiler.catalog import CLOCK_EVENT_BITS
from profiler.features import Features
from profiler.report import Report

MAX_POINTS = 1200
HEATMAP_COLUMNS = 600
HEATMAP_MIN_GPUS = 2
MAX_SPANS = 40
THROTTLE_BITS = (CLOCK_EVENT_BITS["sw_power_cap"] | CLOCK_EVENT_BITS["hw_slowdown"]
                 | CLOCK_EVENT_BITS["sw_thermal_slowdown"] | CLOCK_EVENT_BITS["hw_thermal_slowdown"]
                 | CLOCK_EVENT_BITS["hw_power_brake_slowdown"])


@dataclass(frozen=True, slots=True)
class ChartSpec:
    id: str
    title: str
    metrics: tuple[str, ...]
    unit: str
    scale: float = 1.0  # display = SI value * scale
    display_unit: str = ""


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("gpu-util", "GPU utilization (kernel running)", ("gpu.util",), "ratio", 100, "%"),
    ChartSpec("gpu-sm", "SM activity", ("gpu.sm_active",), "ratio", 100, "%"),
    ChartSpec("timeline-busy", "GPU busy (from the profiler timeline)",
              ("timeline.gpu_busy", "timeline.compute_busy"), "ratio", 100, "%"),
    ChartSpec("gpu-tensor", "Tensor-core activity", ("gpu.tensor_active",), "ratio", 100, "%"),
    ChartSpec("gpu-dram", "DRAM bandwidth activity", ("gpu.dram_active",), "ratio", 100, "%"),
    ChartSpec("gpu-clock", "SM clock (shaded: throttled)", ("gpu.clock_sm",), "Hz", 1e-6, "MHz"),
    ChartSpec("gpu-power", "GPU power", ("gpu.power",), "W", 1, "W"),
    ChartSpec("gpu-temp", "GPU temperature", ("gpu.temp",), "celsius", 1, "°C"),
    ChartSpec("gpu-fb", "Framebuffer used", ("gpu.fb_used",), "bytes", 2.0**-30, "GiB"),
    ChartSpec("gpu-pcie", "PCIe host→GPU", ("gpu.pcie_rx",), "bytes/s", 1e-9, "GB/s"),
    ChartSpec("gpu-pcie-tx", "PCIe GPU→host", ("gpu.pcie_tx",), "bytes/s", 1e-9, "GB/s"),
    ChartSpec("gpu-nvlink", "NVLink sent", ("gpu.nvlink_tx", "gpu.nvlink_total"), "bytes/s",
              1e-9, "GB/s"),
    ChartSpec("host-cpu", "Host CPU by mode", ("host.cpu.user", "host.cpu.system",
                                               "host.cpu.iowait", "host.cpu.steal"),
              "ratio", 100, "%"),
    ChartSpec("host-cores", "Busiest core", ("host.cpu.core_busy_max",), "ratio", 100, "%"),
    ChartSpec("host-psi", "Pressure stall (PSI some)", ("host.psi.io_some", "host.psi.memory_some",
                                                       "host.psi.cpu_some"), "ratio", 100, "%"),
    ChartSpec("disk", "Disk read", ("disk.read",), "bytes/s", 1e-6, "MB/s"),
    ChartSpec("disk-write", "Disk write", ("disk.write",), "bytes/s", 1e-6, "MB/s"),
    ChartSpec("disk-busy", "Disk busy", ("disk.busy",), "ratio", 100, "%"),
    ChartSpec("nic", "Network received", ("nic.rx", "ib.rx"), "bytes/s", 1e-9, "GB/s"),
    ChartSpec("nic-tx", "Network sent", ("nic.tx", "ib.tx"), "bytes/s", 1e-9, "GB/s"),
    ChartSpec("swap", "Swap in/out", ("host.swap_in", "host.swap_out"), "bytes/s", 1e-6, "MB/s"),
)
CHART_OF_METRIC = {m: c.id for c in CHARTS for m in c.metrics}


@dataclass(slots=True)
class Timeline:
    """Everything the HTML page draws, as JSON-ready values (times in epoch seconds)."""

    x: list[float]
    charts: list[dict[str, Any]] = field(default_factory=list)
    heatmap: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    step_s: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "charts": self.charts, "heatmap": self.heatmap,
                "findings": self.findings, "step_s": self.step_s}


def _edges(n: int, buckets: int) -> np.ndarray:
    return np.unique(np.linspace(0, n, buckets + 1).astype("int64"))[:-1]


def _reduce(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per bucket (rows between edges): NaN-aware mean, min and max of a bins x cols array."""
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    sums = np.add.reduceat(filled, edges, axis=0)
    counts = np.add.reduceat(finite.astype("int64"), edges, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    low = np.fmin.reduceat(np.where(finite, values, np.inf), edges, axis=0)
    high = np.fmax.reduceat(np.where(finite, values, -np.inf), edges, axis=0)
    low[counts == 0] = np.nan
    high[counts == 0] = np.nan
    return mean, low, high


def _round(array: np.ndarray) -> list[float | None]:
    """Four significant digits, NaN as null: small JSON, same picture."""
    out = np.asarray(array, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        magnitude = np.where(np.isfinite(out) & (out != 0),
                             np.floor(np.log10(np.abs(np.where(out == 0, 1, out)))), 0)
    digits = np.clip(3 - magnitude, 0, 12)
    rounded = np.round(out * 10.0**digits) / 10.0**digits
    return [None if not np.isfinite(v) else float(v) for v in rounded]


def _chart(features: Features, spec: ChartSpec, edges: np.ndarray) -> dict[str, Any] | None:
    series = []
    for metric in spec.metrics:
        frame = features.wide(metric)
        if frame.empty:
            continue
        mean, low, high = _reduce(frame.to_numpy(dtype="float64") * spec.scale, edges)
        suffix = "" if len(spec.metrics) == 1 else f" {metric.rsplit('.', 1)[-1]}"
        for i, column in enumerate(frame.columns):
            series.append({"label": f"{column}{suffix}", "entity": column, "metric": metric,
                           "mean": _round(mean[:, i]), "min": _round(low[:, i]),
                           "max": _round(high[:, i])})
    if not series:
        return None
    chart: dict[str, Any] = {"id": spec.id, "title": spec.title, "unit": spec.display_unit,
                             "series": series}
    if spec.id == "gpu-clock":
        chart["shade"] = _spans(features, _throttled(features))
    return chart


def _throttled(features: Features) -> pd.Series:
    frame = features.clock_event_bit(THROTTLE_BITS)
    return frame.max(axis=1) > 0.5 if not frame.empty else pd.Series(dtype=bool)


def _spans(features: Features, mask: pd.Series) -> list[list[float]]:
    """Runs of True in a per-bin mask as [start, end] epoch seconds (at most MAX_SPANS)."""
    if mask.empty or not mask.any():
        return []
    values = mask.to_numpy(dtype=bool)
    padded = np.concatenate([[False], values, [False]])
    change = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = change[0::2], change[1::2]
    if len(starts) > MAX_SPANS:  # merge the closest runs until few enough remain
        gaps = starts[1:] - ends[:-1]
        keep = np.sort(np.argsort(gaps)[::-1][:MAX_SPANS - 1])
        starts = np.concatenate([[starts[0]], starts[1:][keep]])
        ends = np.concatenate([ends[:-1][keep], [ends[-1]]])
    t0 = features.t0.timestamp()
    return [[t0 + s * features.step_s, t0 + e * features.step_s]
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def _evidence_spans(features: Features, metric: str, entity: str, observed: float,
                    threshold: float | None) -> list[list[float]]:
    frame = features.wide(metric)
    if threshold is None or entity not in frame.columns:
        return []
    column = frame[entity]
    mask = column >= threshold if observed >= threshold else column <= threshold
    return _spans(features, mask.fillna(False))


def _finding_links(features: Features, report: Report) -> list[dict[str, Any]]:
    links = []
    for rank, finding in enumerate(report.findings, 1):
        chart, spans = None, []
        for e in finding.evidence:
            if e.metric in CHART_OF_METRIC:
                chart = chart or CHART_OF_METRIC[e.metric]
                if CHART_OF_METRIC[e.metric] == chart and e.observed is not None:
                    spans += _evidence_spans(features, e.metric, e.entity, e.observed,
                                             e.threshold)
        if chart is None:
            chart = "gpu-util"
        links.append({"rank": rank, "id": finding.id, "chart": chart, "spans": spans[:MAX_SPANS],
                      "entities": list(finding.entities)})
    return links


def _heatmap(features: Features) -> dict[str, Any] | None:
    metric = "gpu.sm_active" if features.has("gpu.sm_active") else "gpu.util"
    frame = features.wide(metric) if features.has(metric) else features.gpu_util()
    if frame.empty or frame.shape[1] < HEATMAP_MIN_GPUS:
        return None
    edges = _edges(len(frame), min(HEATMAP_COLUMNS, len(frame)))
    mean, _, _ = _reduce(frame.to_numpy(dtype="float64"), edges)
    name = "SM activity" if metric == "gpu.sm_active" else "GPU utilization"
    return {"metric": metric, "title": f"{name} per GPU over time (red: idle, green: busy)",
            "rows": list(frame.columns), "values": [_round(mean[:, i] * 100)
                                                    for i in range(mean.shape[1])],
            "x": [features.t0.timestamp() + float(e) * features.step_s for e in edges]}


def build_timeline(features: Features, report: Report) -> Timeline:
    """Downsampled chart data for every metric group the trace has, plus finding links."""
    n = features.n_bins
    edges = _edges(n, min(MAX_POINTS, n)) if n else np.zeros(0, dtype="int64")
    t0 = features.t0.timestamp()
    x = [t0 + float(e) * features.step_s for e in edges]
    timeline = Timeline(x=x, step_s=features.step_s * (n / max(len(edges), 1)))
    if n:
        timeline.charts = [c for c in (_chart(features, s, edges) for s in CHARTS) if c]
        timeline.heatmap = _heatmap(features)
    timeline.findings = _finding_links(features, report)
    return timeline
