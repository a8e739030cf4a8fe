"""Every analysis of a set of per-rank traces, run once and kept for the rules and the report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from profiler.pytorch import hta, kinds, ranks, steps
from profiler.pytorch.intervals import Merged, clip, intersection_length, merge
from profiler.pytorch.reader import RankEvents

NS_PER_US = 1000


@dataclass(frozen=True, slots=True)
class RankInfo:
    rank: int
    path: str
    rank_source: str
    entity: str  # how findings name the rank's GPU: "rank3/gpu3"
    device_name: str | None
    compute_major: int | None
    loader: str | None  # the DataLoader iterator class seen on the rank, if any


@dataclass(frozen=True, slots=True)
class TorchAnalysis:
    """Per-rank tables (index `rank`) and per-step/per-stream tables (column `rank`)."""

    ranks: tuple[RankInfo, ...]
    rounding: bool
    temporal: pd.DataFrame  # idle/compute/non_compute (_ns, _us, _pct), total_ns, total_us
    overlap: pd.Series  # comm_overlap_pct
    idle: pd.DataFrame  # rank, stream, idle_category, idle_us
    kernel_types: pd.DataFrame  # rank, kernel_type, time_us, pct
    top_kernels: pd.DataFrame
    steps: pd.DataFrame  # rank, step, step_us, <part>_us
    step_summary: pd.DataFrame  # steps, step_time_us, <part>_pct
    tensor_cores: pd.DataFrame  # tc_kernel_share, tc_eligible_share, ...
    cross_rank: pd.DataFrame  # step_time_us, vs_median, late arrival
    exposure: pd.DataFrame  # GPU time (ns) exposed per cause, for the rules

    def step_times(self) -> np.ndarray:
        """Each profiled step's duration in seconds, in step order: the slowest rank's, since a
        synchronous job moves at its pace (what `profiler gate` compares as step_time)."""
        if self.steps.empty:
            return np.empty(0)
        per_step = self.steps.groupby("step")["step_us"].max().sort_index()
        seconds: np.ndarray = per_step.to_numpy(dtype="float64") / 1e6
        return seconds

    def info(self, rank: int) -> RankInfo:
        return next(r for r in self.ranks if r.rank == rank)

    @property
    def total_ns(self) -> float:
        """GPU time of all ranks: the sum of their first-to-last activity spans."""
        return float(self.temporal["total_ns"].sum())

    def idle_by_category(self) -> pd.DataFrame:
        """Per rank: idle µs per category, summed over streams (streams overlap in time, so
        the sum can exceed the rank's idle time: use the shares)."""
        if self.idle.empty:
            return pd.DataFrame(columns=["host_wait", "kernel_wait", "other"])
        table = self.idle.pivot_table(index="rank", columns="idle_category", values="idle_us",
                                      aggfunc="sum", fill_value=0.0)
        return table.reindex(columns=["host_wait", "kernel_wait", "other"], fill_value=0.0)

    def _kernel_types(self, rank: int) -> dict[str, float | None]:
        """HTA's kernel-type table for one rank: % of GPU busy time by exclusive combination."""
        t = self.kernel_types[self.kernel_types["rank"] == rank]
        return {str(k): _clean(v) for k, v in zip(t["kernel_type"], t["pct"], strict=True)}

    def _top(self, rank: int, n: int = 5) -> list[dict[str, Any]]:
        """The kernels with the most total time on one rank, any type."""
        return _top_rows(self.top_kernels[self.top_kernels["rank"] == rank], n)

    def report_extras(self) -> dict[str, Any]:
        """The JSON report's `breakdown` object, keyed by rank (docs/report-format.md)."""
        idle = self.idle_by_category()
        x = self.cross_rank
        out: dict[str, Any] = {}
        for info in self.ranks:
            r = info.rank
            t = self.temporal.loc[r] if r in self.temporal.index else None
            s = self.step_summary.loc[r] if r in self.step_summary.index else None
            i = idle.loc[r] if r in idle.index else None
            tc = self.tensor_cores.loc[r] if r in self.tensor_cores.index else None
            out[str(r)] = {
                "file": info.path,
                "rank_from": info.rank_source,
                "gpu": info.entity,
                "total_us": _num(t, "total_us"),
                "idle_us": _num(t, "idle_us"),
                "compute_us": _num(t, "compute_us"),
                "non_compute_us": _num(t, "non_compute_us"),
                "idle_pct": _num(t, "idle_pct"),
                "compute_pct": _num(t, "compute_pct"),
                "non_compute_pct": _num(t, "non_compute_pct"),
                **_idle_shares(i),
                "comm_overlap_pct": _clean(self.overlap.get(r)),
                "steps": None if s is None else int(s["steps"]),
                "step_time_us": _num(s, "step_time_us"),
                "dataloader_pct": _num(s, "dataloader_pct"),
                "step_parts_pct": None if s is None else {
                    p: _num(s, f"{p}_pct") for p in (*steps.PARTS, "other")},
                "tensor_core_kernel_pct": _pct(tc, "tc_kernel_share"),
                "tensor_core_eligible_pct": _pct(tc, "tc_eligible_share"),
                "step_time_vs_median": _num(x.loc[r] if r in x.index else None, "vs_median"),
                "collective_late_mean_us": _num(x.loc[r] if r in x.index else None,
                                                "late_mean_us"),
                "kernel_types_pct": self._kernel_types(r),
                "top_kernels": self._top(r),
            }
        return {"breakdown": out}


def _top_rows(table: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    rows = table.sort_values("total_us", ascending=False).head(n)
    return [{"name": str(name), "type": str(kind), "total_us": _clean(total),
             "count": int(count), "mean_us": _clean(mean)}
            for name, kind, total, count, mean in zip(
                rows["name"], rows["kernel_type"], rows["total_us"], rows["count"],
                rows["mean_us"], strict=True)]


def _idle_shares(row: pd.Series | None) -> dict[str, float | None]:
    """HTA's idle categories as % of the streams' idle gaps."""
    keys = ("host_wait", "kernel_wait", "other")
    total = float(row.sum()) if row is not None else 0.0
    return {f"idle_{k}_pct": (_clean(100.0 * float(row[k]) / total)
                              if row is not None and total > 0 else None) for k in keys}


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else round(v, 3)


def _num(row: pd.Series | None, key: str) -> float | None:
    if row is None or key not in row.index:
        return None
    return _clean(row[key])


def _pct(row: pd.Series | None, key: str) -> float | None:
    v = _num(row, key)
    return None if v is None else round(100.0 * v, 3)


def analyse(rank_events: Sequence[RankEvents], *, rounding: bool = False,
            include_last_step: bool = False) -> TorchAnalysis:
    """Run every analysis. `rounding` applies HTA's whole-µs rounding (its default)."""
    multi = hta.has_multiple_steps(rank_events)
    views = [hta.hta_view(r, rounding=rounding, filter_steps=multi,
                          include_last_step=include_last_step) for r in rank_events]
    cats = {r.rank: r.cats for r in rank_events}
    names = {r.rank: r.names for r in rank_events}
    runtime = {v.rank: hta.runtime_launch_ts(v) for v in views}
    step_rows = steps.all_step_breakdowns(rank_events)
    summary = steps.step_summary(step_rows)
    tc = pd.DataFrame({r.rank: steps.tensor_core_use(r) for r in rank_events}).T
    tc.index.name = "rank"
    return TorchAnalysis(
        ranks=tuple(_info(r) for r in rank_events),
        rounding=rounding,
        temporal=hta.temporal_breakdown(views),
        overlap=hta.comm_comp_overlap(views),
        idle=hta.idle_breakdown(views, cats, runtime),
        kernel_types=hta.kernel_type_breakdown(views),
        top_kernels=hta.top_kernels(views, names),
        steps=step_rows,
        step_summary=summary,
        tensor_cores=tc,
        cross_rank=ranks.cross_rank(summary, ranks.late_arrival(rank_events)),
        exposure=pd.DataFrame([_exposure(r, v) for r, v in zip(rank_events, views, strict=True)],
                              index=pd.Index([r.rank for r in rank_events], name="rank")),
    )


def _info(r: RankEvents) -> RankInfo:
    f = r.frame
    dev = f["device"].to_numpy()
    dev = dev[dev >= 0]
    device = int(np.bincount(dev).argmax()) if len(dev) else 0
    props = next((d for d in r.devices if d.get("id") == device), None)
    loader_names = [str(n) for n, hit in zip(r.names, kinds.is_dataloader(r.names), strict=True)
                    if hit]
    loader = loader_names[0].split("#", 1)[1].removesuffix(".__next__") if loader_names else None
    major = props.get("computeMajor") if props else None
    return RankInfo(r.rank, str(Path(r.path)), r.rank_source, f"rank{r.rank}/gpu{device}",
                    str(props.get("name")) if props and props.get("name") else None,
                    int(major) if isinstance(major, int) else None, loader)


def _exposure(r: RankEvents, v: hta.HtaView) -> dict[str, float]:
    """GPU time (ns) each cause leaves exposed on the rank, inside HTA's span:
    idle while the training loop waits in the DataLoader; communication and host-device copies
    not hidden under computation; idle gaps the GPU spends waiting for the next launch."""
    g = v.frame[v.frame["stream"].to_numpy() != -1]
    kt = g["ktype"].to_numpy()
    busy = merge(g["ts"].to_numpy(), g["end"].to_numpy())
    comp = merge(g["ts"].to_numpy()[kt == kinds.COMPUTATION], g["end"].to_numpy()[
        kt == kinds.COMPUTATION])
    comm = merge(g["ts"].to_numpy()[kt == kinds.COMMUNICATION], g["end"].to_numpy()[
        kt == kinds.COMMUNICATION])
    names = np.asarray(r.names, dtype=object)[g["name"].to_numpy()]
    host_copy = np.array([isinstance(n, str) and n.startswith("Memcpy")
                          and ("HtoD" in n or "DtoH" in n) for n in names], dtype=bool)
    copies = merge(g["ts"].to_numpy()[host_copy], g["end"].to_numpy()[host_copy])
    lo, hi = (int(busy.starts[0]), int(busy.ends[-1])) if len(busy.starts) else (0, 0)
    f = r.frame
    loader = kinds.is_dataloader(r.names)[f["name"].cat.codes.to_numpy()]
    dl = clip(merge(f["ts"].to_numpy()[loader], (f["ts"] + f["dur"]).to_numpy()[loader]), lo, hi)
    return {
        "span_ns": float(hi - lo),
        "idle_ns": float((hi - lo) - busy.length),
        "dataloader_idle_ns": float(dl.length - intersection_length(dl, busy)),
        "comm_ns": float(comm.length),
        "comm_exposed_ns": float(comm.length - intersection_length(comm, comp)),
        "copy_ns": float(copies.length),
        "copy_exposed_ns": float(copies.length - intersection_length(copies, comp)),
        **_launch_stats(r, v, busy),
    }


def _launch_stats(r: RankEvents, v: hta.HtaView, busy: Merged) -> dict[str, float]:
    """Kernel count and median kernel duration inside the span (small, many kernels)."""
    g = v.frame[(v.frame["stream"].to_numpy() != -1)
                & (v.frame["ktype"].to_numpy() != kinds.OTHER)]
    dur = (g["end"] - g["ts"]).to_numpy()
    return {"kernels": float(len(g)),
            "kernel_median_ns": float(np.median(dur)) if len(dur) else float("nan")}
