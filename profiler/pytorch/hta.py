"""GPU-side analyses with Holistic Trace Analysis' definitions, so the numbers agree with HTA's.

Each function takes prepared per-rank views (see `hta_view`) and returns a DataFrame with one
row per rank (or per rank and stream). Definitions: ../shared/reference/pytorch-trace.md §5,
checked against HTA 0.5.0's code (hta/analyzers/breakdown_analysis.py, hta/common/trace.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.pytorch import kinds
from profiler.pytorch.intervals import Merged, intersection_length, merge
from profiler.pytorch.reader import RankEvents

NS_PER_US = 1000
CONSECUTIVE_KERNEL_DELAY_US = 30  # HTA's default (its docstring says ns; it compares µs)
IDLE_KERNEL_CATS = ("kernel", "Kernel", "gpu_memset", "Memset", "gpu_memcpy", "Memcpy",
                    "mtia_ccp_events")
SYNC_NAMES = ("Event Sync", "Context Sync")


@dataclass(frozen=True, slots=True)
class HtaView:
    """One rank's events after HTA's rounding and step filter: the rows HTA analyses."""

    rank: int
    frame: pd.DataFrame  # ts, end (int64 ns), name, cat, stream, correlation, ktype
    steps_analyzed: tuple[int, ...]


def has_multiple_steps(ranks: Sequence[RankEvents]) -> bool:
    """HTA filters steps only when its symbol table holds >= 2 names containing ProfilerStep."""
    names = {str(n) for r in ranks for n in r.names if "ProfilerStep" in str(n)}
    return len(names) >= 2


def hta_view(r: RankEvents, *, rounding: bool, filter_steps: bool,
             include_last_step: bool = False) -> HtaView:
    """Round to whole µs (HTA's default for float traces) and drop the last step's work."""
    f = r.frame
    ts = f["ts"].to_numpy()
    end = ts + f["dur"].to_numpy()
    if rounding:  # ceil(start), floor(end) on the microsecond grid, as HTA does
        ts = -(-ts // NS_PER_US) * NS_PER_US
        end = (end // NS_PER_US) * NS_PER_US
    names = r.names
    name_codes = f["name"].cat.codes.to_numpy()
    cat_codes = f["cat"].cat.codes.to_numpy()
    not_trace = cat_codes != _code(r.cats, "Trace")
    stream = f["stream"].to_numpy()
    corr = f["correlation"].to_numpy()
    sync = np.isin(name_codes, [_code(names, n) for n in SYNC_NAMES])
    gpu = ((stream >= 0) & (corr >= 0)) | sync
    keep = not_trace
    steps = kinds.step_number(names)
    is_step = np.array(["ProfilerStep" in str(n) for n in names], dtype=bool)[name_codes]
    analyzed: tuple[int, ...] = ()
    if filter_steps:
        cpu_step = is_step & ~gpu & not_trace
        if cpu_step.any():
            last_start = ts[cpu_step].max()
            last_end = end[cpu_step].max()
            cpu_keep = ~gpu & not_trace & (ts <= last_end if include_last_step
                                            else ts < last_start)
            kept_corr = np.unique(corr[cpu_keep])
            keep = cpu_keep | (gpu & not_trace & np.isin(corr, kept_corr))
            nums = steps[name_codes[cpu_step & cpu_keep]]
            analyzed = tuple(sorted({int(n) for n in nums if n >= 0}))
        else:
            keep = np.zeros(len(ts), dtype=bool)
    ktype = kinds.kernel_types(names)[name_codes]
    frame = pd.DataFrame({"ts": ts[keep], "end": end[keep], "name": name_codes[keep],
                          "cat": cat_codes[keep], "stream": stream[keep], "correlation":
                          corr[keep], "ktype": ktype[keep]})
    return HtaView(r.rank, frame, analyzed)


def _code(index: pd.Index, name: str) -> int:
    hits = np.flatnonzero(np.asarray(index == name))
    return int(hits[0]) if len(hits) else -2


def _gpu_rows(v: HtaView) -> pd.DataFrame:
    return v.frame[v.frame["stream"].to_numpy() != -1]


def _merged(rows: pd.DataFrame) -> Merged:
    return merge(rows["ts"].to_numpy(), rows["end"].to_numpy())


def temporal_breakdown(views: Sequence[HtaView]) -> pd.DataFrame:
    """Per rank: idle / compute / non-compute time over the first-to-last GPU activity span."""
    rows = []
    for v in views:
        g = _gpu_rows(v)
        allg = _merged(g)
        span = allg.span
        idle = span - allg.length
        compute = _merged(g[g["ktype"].to_numpy() == kinds.COMPUTATION]).length
        rows.append((v.rank, idle, compute, span - compute - idle, span))
    out = pd.DataFrame(rows, columns=["rank", "idle_ns", "compute_ns", "non_compute_ns",
                                      "total_ns"])
    for col in ("idle", "compute", "non_compute"):
        out[f"{col}_us"] = out[f"{col}_ns"] / NS_PER_US
        out[f"{col}_pct"] = 100.0 * out[f"{col}_ns"] / out["total_ns"].where(
            out["total_ns"] > 0)
    out["total_us"] = out["total_ns"] / NS_PER_US
    return out.set_index("rank")


def comm_comp_overlap(views: Sequence[HtaView]) -> pd.Series:
    """Per rank: share (%) of communication kernel time that runs under computation (NaN
    without communication kernels)."""
    out = {}
    for v in views:
        g = _gpu_rows(v)
        kt = g["ktype"].to_numpy()
        comp, comm = _merged(g[kt == kinds.COMPUTATION]), _merged(g[kt == kinds.COMMUNICATION])
        out[v.rank] = (100.0 * intersection_length(comp, comm) / comm.length
                       if comm.length > 0 else float("nan"))
    return pd.Series(out, name="comm_overlap_pct", dtype="float64").rename_axis("rank")


def idle_breakdown(views: Sequence[HtaView], cats: dict[int, pd.Index],
                   runtime_ts: dict[int, pd.Series],
                   delay_us: float = CONSECUTIVE_KERNEL_DELAY_US) -> pd.DataFrame:
    """Per rank and stream: idle gaps between consecutive GPU ops of a stream, split into
    host_wait (the op was launched after the stream went idle), kernel_wait (a gap shorter than
    `delay_us`) and other. `runtime_ts` maps correlation -> launch ts per rank."""
    frames = []
    for v in views:
        f = v.frame
        cat_ok = np.isin(f["cat"].to_numpy(), [_code(cats[v.rank], c) for c in IDLE_KERNEL_CATS])
        k = f[(f["stream"].to_numpy() != -1) & cat_ok].sort_values(["stream", "ts"],
                                                                   kind="stable")
        if k.empty:
            continue
        stream = k["stream"].to_numpy()
        ts, end = k["ts"].to_numpy(), k["end"].to_numpy()
        first = np.concatenate(([True], stream[1:] != stream[:-1]))
        prev_end = np.concatenate(([0], end[:-1])).astype("float64")
        prev_end[first] = np.nan
        gap = ts - prev_end
        launch = runtime_ts[v.rank].reindex(k["correlation"].to_numpy()).to_numpy(
            dtype="float64")
        host = launch > prev_end
        kernel = ~host & (gap < delay_us * NS_PER_US)
        category = np.where(host, "host_wait", np.where(kernel, "kernel_wait", "other"))
        frames.append(pd.DataFrame({"rank": v.rank, "stream": stream, "idle_category": category,
                                    "idle_ns": np.nan_to_num(gap, nan=0.0)}))
    if not frames:
        return pd.DataFrame(columns=["rank", "stream", "idle_category", "idle_us"])
    allf = pd.concat(frames, ignore_index=True)
    out = allf.groupby(["rank", "stream", "idle_category"], observed=True)["idle_ns"].sum()
    return (out / NS_PER_US).rename("idle_us").reset_index()


def runtime_launch_ts(view: HtaView) -> pd.Series:
    """correlation -> ts of the CPU-side row with that correlation (the launch call)."""
    f = view.frame
    cpu = f[(f["stream"].to_numpy() == -1) & (f["correlation"].to_numpy() >= 0)]
    cpu = cpu.drop_duplicates("correlation", keep="first")
    return pd.Series(cpu["ts"].to_numpy(), index=cpu["correlation"].to_numpy())


def kernel_type_breakdown(views: Sequence[HtaView]) -> pd.DataFrame:
    """Per rank: busy time by exclusive combination of COMPUTATION / COMMUNICATION / MEMORY
    (HTA's first kernel-breakdown table), in µs and % of the union."""
    labels = {1: "COMPUTATION", 2: "COMMUNICATION", 4: "MEMORY"}
    rows = []
    for v in views:
        g = _gpu_rows(v)
        kt = g["ktype"].to_numpy()
        parts = {bit: _merged(g[kt == t]) for bit, t in ((1, kinds.COMPUTATION),
                                                          (2, kinds.COMMUNICATION),
                                                          (4, kinds.MEMORY))}
        times, masks = _sweep(parts)
        for mask in np.unique(masks[masks > 0]):
            name = " overlapping ".join(labels[b] for b in (1, 2, 4) if mask & b)
            rows.append((v.rank, name, float(times[masks == mask].sum()) / NS_PER_US))
    out = pd.DataFrame(rows, columns=["rank", "kernel_type", "time_us"])
    total = out.groupby("rank")["time_us"].transform("sum")
    out["pct"] = 100.0 * out["time_us"] / total
    return out.sort_values(["rank", "time_us"], ascending=[True, False], ignore_index=True)


def _sweep(parts: dict[int, Merged]) -> tuple[np.ndarray, np.ndarray]:
    """Elementary segments between all boundaries, with the bit set of types active in each."""
    bounds = np.unique(np.concatenate([np.concatenate((m.starts, m.ends))
                                       for m in parts.values()] or [np.zeros(0, np.int64)]))
    if len(bounds) < 2:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    lo, hi = bounds[:-1], bounds[1:]
    masks = np.zeros(len(lo), dtype=np.int64)
    for bit, m in parts.items():
        if len(m.starts):
            i = np.searchsorted(m.starts, lo, side="right") - 1
            active = (i >= 0) & (lo < m.ends[np.maximum(i, 0)])
            masks |= np.where(active, bit, 0)
    return hi - lo, masks


def top_kernels(views: Sequence[HtaView], names: dict[int, pd.Index], n: int = 10) -> pd.DataFrame:
    """Per rank and kernel type: the `n` kernels with the most total time, real per-call stats."""
    frames = []
    for v in views:
        g = _gpu_rows(v)
        g = g[g["ktype"].to_numpy() != kinds.OTHER]
        dur = (g["end"] - g["ts"]) / NS_PER_US
        stats = dur.groupby([g["ktype"], g["name"]]).agg(["sum", "count", "mean", "max", "min"])
        stats = stats.reset_index().sort_values("sum", ascending=False)
        stats = stats.groupby("ktype", group_keys=False).head(n)
        stats["kernel_type"] = np.asarray(kinds.KERNEL_TYPES)[stats["ktype"].to_numpy()]
        stats["name"] = np.asarray(names[v.rank], dtype=object)[stats["name"].to_numpy()]
        stats["rank"] = v.rank
        frames.append(stats.drop(columns="ktype").rename(columns={
            "sum": "total_us", "mean": "mean_us", "max": "max_us", "min": "min_us"}))
    if not frames:
        return pd.DataFrame(columns=["rank", "kernel_type", "name", "total_us", "count"])
    return pd.concat(frames, ignore_index=True)
