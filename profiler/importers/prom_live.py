"""`profiler diagnose --prometheus URL`: pull dcgm-exporter and node_exporter series over a
time range from a live Prometheus and build one Trace of every matching host.

Counters arrive as rates computed by Prometheus. Long ranges are split so that no query asks
for more than 11,000 points per series (Prometheus' limit). With `aggregate`, Prometheus
averages each series into `points` bins (avg_over_time / rate over the bin, by host and GPU)
and turns the clock-event bitmask into the share of each bin a reason was active, so the
answer grows with the bins asked for, not with the scrape resolution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from profiler.catalog import CLOCK_EVENT_BITS, OutsideName, Source
from profiler.errors import InputError, UsageError
from profiler.importers.derive import CORE_SATURATED, CPU, derived_name
from profiler.importers.derive import INPUTS as DERIVE_INPUTS
from profiler.importers.prom_http import PromClient
from profiler.importers.prom_series import (
    TABLES,
    UNAME,
    RawSeries,
    canonical_name,
    series_to_trace,
    wanted,
)
from profiler.trace import Trace

MAX_POINTS = 11_000  # Prometheus refuses more points per series in one query_range
CHUNK_POINTS = 10_000  # what one query asks for, below MAX_POINTS
GPU_LABELS = ("gpu", "UUID", "uuid", "modelName", "pci_bus_id", "Hostname", "hostname",
              "instance", "GPU_I_ID", "DCGM_FI_DRIVER_VERSION", "node", "kubernetes_node")
NODE_LABELS = ("instance", "node", "kubernetes_node", "hostname", "nodename")
UTIL_NAMES = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_UTIL_RATIO",
              "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_GR_ENGINE_UTIL_RATIO")
REASON_NAMES = ("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS")
BIT_GROUPS: dict[str, tuple[int, ...]] = {  # aggregated: share of the bin a reason was active
    "gpu.throttle.thermal": (CLOCK_EVENT_BITS["sw_thermal_slowdown"],
                             CLOCK_EVENT_BITS["hw_thermal_slowdown"]),
    "gpu.throttle.power_cap": (CLOCK_EVENT_BITS["sw_power_cap"],),
    "gpu.throttle.power_brake": (CLOCK_EVENT_BITS["hw_power_brake_slowdown"],),
    "gpu.throttle.sync_boost": (CLOCK_EVENT_BITS["sync_boost"],),
}
DERIVE_ONLY = DERIVE_INPUTS - set(TABLES["node_exporter"])  # read only for derived metrics
_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """What to pull: times in seconds since the epoch, step in seconds."""

    start: float
    end: float
    step: float = 15.0
    match: str | None = None
    aggregate: bool = False
    points: int = 60
    rate_window_s: float | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One PromQL expression and how its answer maps back onto the catalog."""

    name: str  # the outside name its series take
    expr: str
    counter: bool


def matchers(match: str | None) -> str:
    """`{a="b", c=~"d"}` or `a="b"` -> `a="b",c=~"d"`; UsageError when it is not matchers."""
    if not match:
        return ""
    body = match.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    pos, parts = 0, []
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise UsageError(f"--match: {match!r} is not label matchers like "
                             '{cluster="a",instance=~"node0[1-4].*"}')
        parts.append(m.group(0).strip())
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise UsageError(f"--match: expected ',' at {body[pos:pos + 10]!r}")
            pos += 1
    return ",".join(parts)


def _selector(name: str, sel: str, extra: str = "") -> str:
    inner = ",".join(x for x in (extra, sel) if x)
    return f"{name}{{{inner}}}"


def plan(names: list[str], q: RangeQuery, sel: str) -> list[Plan]:
    """PromQL for every outside name present, raw or aggregated into bins."""
    step = bin_width(q)
    window = step if q.aggregate else (q.rate_window_s or max(2 * q.step, 60.0))
    out = []
    for name in names:
        if name in DERIVE_ONLY:
            continue
        if name == UNAME:
            out.append(Plan(UNAME, f"max by (instance, nodename) ({_selector(UNAME, sel)})",
                            False))
            continue
        field = canonical_name(name)
        source: Source = "dcgm" if field in TABLES["dcgm"] or field.removesuffix(
            "_total") in TABLES["dcgm"] else "node_exporter"
        entries = TABLES[source].get(field) or TABLES[source][field.removesuffix("_total")]
        keys = sorted({k for e in entries for k, _ in e.labels})
        allowed = {k: "|".join(sorted({v for e in entries for kk, v in e.labels if kk == k}))
                   for k in keys}
        restrict = ",".join(f'{k}=~"{v}"' for k, v in allowed.items())
        by = ", ".join(dict.fromkeys((*(GPU_LABELS if source == "dcgm" else NODE_LABELS), *keys,
                                      *(x for e in entries for x in e.entity_labels))))
        series = _selector(name, sel, restrict)
        counter = entries[0].counter
        if field in REASON_NAMES and q.aggregate:
            out.extend(_reason_plans(field, series, by, step, q.step))
        elif counter:
            how = "avg" if any(e.aggregate == "mean" for e in entries) else "sum"
            out.append(Plan(name, f"{how} by ({by}) (rate({series}[{_dur(window)}]))", True))
        elif field in REASON_NAMES:
            out.append(Plan(name, f"max by ({by}) ({series})", False))
        elif q.aggregate:
            out.append(Plan(name, f"avg by ({by}) (avg_over_time({series}[{_dur(step)}]))",
                            False))
        else:
            out.append(Plan(name, f"avg by ({by}) ({series})", False))
    return out


def derived_plans(names: list[str], q: RangeQuery, sel: str) -> list[Plan]:
    """Per-core busy (max, saturated count), CPU count and swap used, computed server-side."""
    step = bin_width(q)
    window = _dur(step if q.aggregate else (q.rate_window_s or max(2 * q.step, 60.0)))
    by = ", ".join(NODE_LABELS)
    plans = []
    if CPU in names:
        idle_modes = _selector(CPU, sel, 'mode=~"idle|iowait"')
        idle = f"sum by ({by}, cpu) (rate({idle_modes}[{window}]))"
        every = f"sum by ({by}, cpu) (rate({_selector(CPU, sel)}[{window}]))"
        busy = f"(1 - {idle} / {every})"
        count = _selector(CPU, sel, 'mode="idle"')
        if q.aggregate:
            count = f"last_over_time({count}[{_dur(step)}])"
        plans += [
            Plan("derived:host.cpu.core_busy_max", f"max by ({by}) ({busy})", False),
            Plan("derived:host.cpu.cores_saturated",
                 f"sum by ({by}) ({busy} >= bool {CORE_SATURATED})", False),
            Plan("derived:host.cpu.count", f"count by ({by}) ({count})", False)]
    if {"node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes"} <= set(names):
        used = (f"{_selector('node_memory_SwapTotal_bytes', sel)} - "
                f"{_selector('node_memory_SwapFree_bytes', sel)}")
        expr = (f"avg by ({by}) (avg_over_time(({used})[{_dur(step)}:{_dur(q.step)}]))"
                if q.aggregate else f"max by ({by}) ({used})")
        plans.append(Plan("derived:host.swap_used", expr, False))
    return plans


def _reason_plans(name: str, series: str, by: str, step: float, raw_step: float) -> list[Plan]:
    plans = []
    for metric, bits in BIT_GROUPS.items():
        flags = " + ".join(f"floor({series} / {b}) % 2" for b in bits)
        expr = (f"avg by ({by}) (avg_over_time((clamp_max({flags}, 1))"
                f"[{_dur(step)}:{_dur(raw_step)}]))")
        plans.append(Plan(f"{name}&{metric}", expr, False))
    return plans


def synthetic_names() -> dict[str, list[OutsideName]]:
    """Outside names of the aggregated clock-reason shares (below any duration counter) and of
    the derived host metrics."""
    names = {f"{name}&{metric}": [OutsideName("dcgm", f"{name}&{metric}", metric,
                                              preference=-1)]
             for name in REASON_NAMES for metric in BIT_GROUPS}
    for metric in ("host.cpu.core_busy_max", "host.cpu.cores_saturated", "host.cpu.count",
                   "host.swap_used"):
        names[f"derived:{metric}"] = [derived_name(metric)]
    return names


def _dur(seconds: float) -> str:
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def bin_width(q: RangeQuery) -> float:
    if not q.aggregate:
        return q.step
    return max(q.step, (q.end - q.start) / max(1, q.points))


def chunks(q: RangeQuery) -> list[tuple[float, float]]:
    """[start, end] pieces of at most CHUNK_POINTS steps each, on one step grid."""
    step = bin_width(q)
    out, t = [], q.start
    while t <= q.end:
        stop = min(q.end, t + (CHUNK_POINTS - 1) * step)
        out.append((t, stop))
        t = stop + step
    return out


def discover(client: PromClient, q: RangeQuery, sel: str) -> list[str]:
    """The known metric names with data in the range (one cheap label-values call)."""
    pattern = '__name__=~"DCGM_.+|dcgm_.+|node_.+"'
    found = client.api("/api/v1/label/__name__/values", {
        "match[]": [f"{{{pattern}{',' + sel if sel else ''}}}"],
        "start": _num(q.start), "end": _num(q.end)}, method="GET")
    names = [str(n) for n in found or [] if isinstance(n, str)]
    known = [n for n in names if wanted(n)]
    return sorted(known)


def _num(x: float) -> str:
    return f"{x:.3f}"


def pull(client: PromClient, q: RangeQuery) -> Trace:
    """Query every needed series over the range and assemble the Trace."""
    if not q.end > q.start:
        raise UsageError("--end must be after --start")
    if not q.step > 0:
        raise UsageError("--step must be more than 0")
    sel = matchers(q.match)
    names = discover(client, q, sel)
    where = f"between {_iso(q.start)} and {_iso(q.end)}" + (f" matching {q.match}" if sel
                                                             else "")
    if not [n for n in names if n != UNAME]:
        raise InputError(client.url, f"no dcgm-exporter or node_exporter data {where}")
    if not set(names) & set(UTIL_NAMES):
        raise InputError(client.url, f"no GPU utilization {where}: none of "
                         f"{', '.join(UTIL_NAMES)} (is dcgm-exporter scraped?)")
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[np.ndarray, np.ndarray]]]
    series = {}
    plans = plan(names, q, sel) + derived_plans(names, q, sel)
    for p in plans:
        for start, end in chunks(q):
            client.stats.queries.append(p.expr)
            data = client.api("/api/v1/query_range", {
                "query": p.expr, "start": _num(start), "end": _num(end),
                "step": _num(bin_width(q))})
            _collect(data, p, series, client)
    raw = [RawSeries(name, dict(labels), np.concatenate([t for t, _ in parts]),
                     np.concatenate([v for _, v in parts]),
                     is_rate=next(p.counter for p in plans if p.name == name))
           for (name, labels), parts in series.items()]
    client.stats.series = len(raw)
    return series_to_trace(raw, source="prometheus", label="this Prometheus data",
                           default_host=client.url, extra=synthetic_names(), derive=False,
                           labels={
                               "import.format": "prometheus", "import.url": client.url,
                               "import.step_s": f"{bin_width(q):g}",
                               "import.aggregate": str(q.aggregate).lower()})


def _collect(data: object, p: Plan, series: dict[tuple[str, tuple[tuple[str, str], ...]],
                                                  list[tuple[np.ndarray, np.ndarray]]],
             client: PromClient) -> None:
    if not isinstance(data, Mapping) or not isinstance(data.get("result"), list):
        raise InputError(client.url, "query_range answered without data.result")
    for item in data["result"]:
        if not isinstance(item, Mapping):
            continue
        labels = tuple(sorted((str(k), str(v)) for k, v in dict(item.get("metric", {})).items()
                              if k != "__name__"))
        points = item.get("values") or []
        try:
            arr = np.asarray([(float(t), float(v)) for t, v in points], dtype="float64")
        except (TypeError, ValueError):
            raise InputError(client.url, f"malformed points in the answer to {p.expr}") from None
        if len(arr):
            series.setdefault((p.name, labels), []).append((arr[:, 0], arr[:, 1]))
            client.stats.points += len(arr)


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
