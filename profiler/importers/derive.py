"""Host metrics node_exporter does not export directly, derived from the series it does.

Per CPU, busy = 1 - (idle + iowait) / all modes (as the live collector computes it); per host
and time: host.cpu.core_busy_max (the busiest core), host.cpu.cores_saturated (cores at least
CORE_SATURATED busy), host.cpu.count; host.swap_used = SwapTotal - SwapFree. Files carry the
per-CPU series, so this runs here; a live Prometheus computes the same server-side
(prom_live.DERIVED_QUERIES).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from profiler.catalog import HOST_ENTITY, OutsideName
from profiler.importers.assemble import Part

CORE_SATURATED = 0.9  # same as collectors.cpu.SATURATED: "cores at least 90 % busy"
CPU = "node_cpu_seconds_total"
INPUTS = frozenset({CPU, "node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes"})


def derived_name(metric: str) -> OutsideName:
    return OutsideName("node_exporter", f"derived:{metric}", metric)


def _rates(ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    if len(ts) < 2:
        return ts[:0], values[:0]
    dt, dv = np.diff(ts), np.diff(values)
    ok = (dt > 0) & (dv >= 0) & np.isfinite(dv)
    return ts[1:][ok], dv[ok] / dt[ok]


def cpu_parts(series: Sequence[tuple[str, Mapping[str, str], np.ndarray, np.ndarray]],
              host_of: Callable[[Mapping[str, str]], str]) -> list[Part]:
    """(name, labels, ts ns, values) of node_cpu_seconds_total -> per-host core metrics."""
    frames = []
    for name, labels, ts, values in series:
        if name != CPU or "cpu" not in labels or "mode" not in labels:
            continue
        t, r = _rates(np.asarray(ts, dtype="int64"), np.asarray(values, dtype="float64") * 1e9)
        if len(t):
            frames.append(pd.DataFrame({
                "host": host_of(labels), "cpu": labels["cpu"], "ts": t, "rate": r,
                "idle": r if labels["mode"] in ("idle", "iowait") else 0.0}))
    if not frames:
        return []
    rows = pd.concat(frames, ignore_index=True)
    per_cpu = rows.groupby(["host", "cpu", "ts"], sort=False)[["rate", "idle"]].sum()
    per_cpu = per_cpu[per_cpu["rate"] > 0]
    busy = (1.0 - per_cpu["idle"] / per_cpu["rate"]).clip(0.0, 1.0).rename("busy").reset_index()
    busy["saturated"] = (busy["busy"] >= CORE_SATURATED).astype("float64")
    by_host = busy.groupby(["host", "ts"])
    out = pd.DataFrame({"max": by_host["busy"].max(), "saturated": by_host["saturated"].sum(),
                        "count": by_host.size().astype("float64")}).reset_index()
    parts = []
    for host, g in out.groupby("host"):
        ts = g["ts"].to_numpy(dtype="int64")
        for column, metric in (("max", "host.cpu.core_busy_max"),
                               ("saturated", "host.cpu.cores_saturated"),
                               ("count", "host.cpu.count")):
            parts.append(Part(str(host), HOST_ENTITY, derived_name(metric), ts,
                              g[column].to_numpy(dtype="float64")))
    return parts


def swap_parts(series: Sequence[tuple[str, Mapping[str, str], np.ndarray, np.ndarray]],
               host_of: Callable[[Mapping[str, str]], str]) -> list[Part]:
    """host.swap_used from node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes."""
    found: dict[str, dict[str, pd.Series]] = {}
    for name, labels, ts, values in series:
        if name in ("node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes"):
            found.setdefault(host_of(labels), {})[name] = pd.Series(
                np.asarray(values, dtype="float64"), index=np.asarray(ts, dtype="int64"))
    parts = []
    for host, pair in found.items():
        if len(pair) == 2:
            total = pair["node_memory_SwapTotal_bytes"]
            used = (total - pair["node_memory_SwapFree_bytes"]).dropna()
            used = used[~used.index.duplicated()]
            parts.append(Part(host, HOST_ENTITY, derived_name("host.swap_used"),
                              used.index.to_numpy(dtype="int64"), used.to_numpy()))
    return parts
