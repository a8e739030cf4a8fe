"""Step time and its parts as the PyTorch TensorBoard plugin showed them, plus tensor-core use.

Definitions from the plugin's last version (pytorch/kineto tb_plugin, overall_parser.py,
event_parser.py, tensor_core.py; ../shared/reference/pytorch-trace.md §6): each step's time is
given exclusively, by priority, to Kernel > Memcpy > Memset > Communication > Runtime >
DataLoader > CPU Exec, and what is left is Other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from profiler.pytorch import kinds
from profiler.pytorch.intervals import EMPTY, Merged, merge, union_of
from profiler.pytorch.reader import RankEvents

PARTS = ("kernel", "memcpy", "memset", "communication", "runtime", "dataloader", "cpu_exec")
LAST_STEP_MIN_OPS = 0.8  # tb_plugin drops a last step launching < 80 % of the previous one's ops
NS_PER_US = 1000

_CATS = {
    "kernel": ("kernel",), "memcpy": ("gpu_memcpy", "memcpy"), "memset": ("gpu_memset", "memset"),
    "runtime": ("cuda_runtime", "runtime", "cuda_driver"),
    "cpu": ("cpu_op", "operator", "user_annotation", "gpu_user_annotation", "python_function"),
}


def _cat_mask(r: RankEvents, role: str) -> np.ndarray:
    lower = np.array([str(c).lower() in _CATS[role] for c in r.cats], dtype=bool)
    out: np.ndarray = lower[r.frame["cat"].cat.codes.to_numpy()]
    return out


def _roles(r: RankEvents) -> dict[str, np.ndarray]:
    """A boolean row mask per role."""
    f = r.frame
    names = r.names
    code = f["name"].cat.codes.to_numpy()
    cpu = _cat_mask(r, "cpu")
    comm_name = np.array([str(n) in kinds.TB_COMM_NAMES for n in names], dtype=bool)[code]
    ext = f["external_id"].to_numpy()
    comm_ext = np.unique(ext[cpu & comm_name & (ext >= 0)])
    kernel = _cat_mask(r, "kernel")
    comm_kernel = kernel & np.isin(ext, comm_ext) & (ext >= 0)
    step = kinds.step_number(names)[code] >= 0
    loader = kinds.is_dataloader(names)[code] & cpu
    return {
        "kernel": kernel & ~comm_kernel,
        "memcpy": _cat_mask(r, "memcpy"),
        "memset": _cat_mask(r, "memset"),
        "communication": comm_kernel | (cpu & comm_name),
        "runtime": _cat_mask(r, "runtime"),
        "dataloader": loader,
        "cpu_exec": cpu & ~loader & ~step & ~comm_name,
        "step": cpu & step,
    }


def step_windows(r: RankEvents, roles: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Steps as the plugin bounds them: from ProfilerStep#N (extended to the end of the GPU work
    they launched), or one step over the CPU side when there are none."""
    roles = roles or _roles(r)
    f = r.frame
    ts = f["ts"].to_numpy()
    end = ts + f["dur"].to_numpy()
    names = r.names
    if roles["step"].any():
        idx = np.flatnonzero(roles["step"])
        nums = kinds.step_number(names)[f["name"].cat.codes.to_numpy()[idx]]
        host = pd.DataFrame({"step": nums, "start": ts[idx], "host_end": end[idx]})
        host = host.sort_values("start").drop_duplicates("step").reset_index(drop=True)
    else:
        cpu_side = roles["cpu_exec"] | roles["dataloader"] | roles["runtime"]
        if not cpu_side.any():
            return pd.DataFrame(columns=["step", "start", "end", "gpu_ops"])
        host = pd.DataFrame({"step": [0], "start": [ts[cpu_side].min()],
                             "host_end": [end[cpu_side].max()]})
    gpu = roles["kernel"] | roles["memcpy"] | roles["memset"] | (roles["communication"] &
        (f["stream"].to_numpy() >= 0))
    corr = f["correlation"].to_numpy()
    rt = roles["runtime"] & (corr >= 0)
    launch = pd.DataFrame({"corr": corr[rt], "rts": ts[rt], "rend": end[rt]}).drop_duplicates(
        "corr")
    ops = pd.DataFrame({"corr": corr[gpu], "gend": end[gpu]}).merge(launch, on="corr")
    starts, ends = host["start"].to_numpy(), host["host_end"].to_numpy()
    # the host step holding each launch wholly (steps do not overlap: searchsorted)
    i = np.searchsorted(starts, ops["rts"].to_numpy(), side="right") - 1
    ok = (i >= 0) & (ops["rend"].to_numpy() <= ends[np.maximum(i, 0)])
    gpu_end = pd.Series(ops["gend"].to_numpy()[ok]).groupby(i[ok]).max()
    gpu_ops = pd.Series(1, index=i[ok]).groupby(level=0).sum()
    host["gpu_end"] = gpu_end.reindex(host.index).to_numpy()
    host["gpu_ops"] = gpu_ops.reindex(host.index).fillna(0).to_numpy(dtype=np.int64)
    host["end"] = np.fmax(host["host_end"].to_numpy(dtype="float64"),
                          host["gpu_end"].to_numpy(dtype="float64")).astype(np.int64)
    prev_end = np.concatenate(([np.iinfo(np.int64).min], host["end"].to_numpy()[:-1]))
    host["start"] = np.maximum(host["start"].to_numpy(), prev_end)
    if gpu.any():
        host = _drop_incomplete(host)
    return host[["step", "start", "end", "gpu_ops"]].reset_index(drop=True)


def _drop_incomplete(host: pd.DataFrame) -> pd.DataFrame:
    with_gpu = np.flatnonzero(host["gpu_ops"].to_numpy() > 0)
    if not len(with_gpu):
        return host.iloc[:0]
    host = host.iloc[:with_gpu[-1] + 1]
    ops = host["gpu_ops"].to_numpy()
    if len(host) >= 2 and ops[-1] < LAST_STEP_MIN_OPS * ops[-2]:
        host = host.iloc[:-1]
    return host


def step_breakdown(r: RankEvents) -> pd.DataFrame:
    """Per step: its time (µs) and each part's exclusive share of it, TB-plugin style."""
    roles = _roles(r)
    steps = step_windows(r, roles)
    f = r.frame
    ts = f["ts"].to_numpy()
    end = ts + np.maximum(f["dur"].to_numpy(), 0)
    lo, hi = steps["start"].to_numpy(), steps["end"].to_numpy()
    out = pd.DataFrame({"rank": r.rank, "step": steps["step"].to_numpy(),
                        "step_us": (hi - lo) / NS_PER_US})
    covered_so_far = np.zeros(len(steps), dtype=np.int64)
    acc: Merged = EMPTY
    for part in PARTS:
        m = roles[part]
        acc = union_of(acc, merge(ts[m], end[m])) if m.any() else acc
        now = acc.covered(lo, hi)
        out[f"{part}_us"] = (now - covered_so_far) / NS_PER_US
        covered_so_far = now
    out["other_us"] = (hi - lo - covered_so_far) / NS_PER_US
    return out


def step_summary(steps: pd.DataFrame) -> pd.DataFrame:
    """Per rank: mean step time and each part as a % of the mean step (the plugin's overview)."""
    cols = [f"{p}_us" for p in (*PARTS, "other")]
    if steps.empty:
        return pd.DataFrame(columns=["steps", "step_time_us", *[c.replace("_us", "_pct")
                                                                 for c in cols]])
    g = steps.groupby("rank")
    mean = g[["step_us", *cols]].mean()
    out = pd.DataFrame({"steps": g.size(), "step_time_us": mean["step_us"]})
    for c in cols:
        out[c.replace("_us", "_pct")] = 100.0 * mean[c] / mean["step_us"]
    return out


def tensor_core_use(r: RankEvents) -> dict[str, float]:
    """Share of kernel time in tensor-core kernels, and in kernels launched by ops that could
    use tensor cores (tb_plugin's allowlist), joined through the innermost op's External id."""
    f = r.frame
    kernel = _cat_mask(r, "kernel")
    dur = f["dur"].to_numpy()
    code = f["name"].cat.codes.to_numpy()
    total = float(dur[kernel].sum())
    tc = kinds.uses_tensor_cores(r.names)[code]
    ext = f["external_id"].to_numpy()
    op_names = np.array([str(n) in kinds.TC_ELIGIBLE_OPS for n in r.names], dtype=bool)[code]
    eligible_ext = np.unique(ext[_cat_mask(r, "cpu") & op_names & (ext >= 0)])
    eligible = kernel & np.isin(ext, eligible_ext) & (ext >= 0)
    if total <= 0:
        return {"tc_kernel_share": float("nan"), "tc_eligible_share": float("nan"),
                "tc_eligible_used_share": float("nan"), "kernel_time_us": 0.0}
    elig = float(dur[eligible].sum())
    return {
        "tc_kernel_share": float(dur[kernel & tc].sum()) / total,
        "tc_eligible_share": elig / total,
        "tc_eligible_used_share": (float(dur[eligible & tc].sum()) / elig if elig > 0
                                   else float("nan")),
        "kernel_time_us": total / NS_PER_US,
    }


def all_step_breakdowns(ranks: Sequence[RankEvents]) -> pd.DataFrame:
    frames = [step_breakdown(r) for r in ranks]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["rank", "step", "step_us",
                                     *[f"{p}_us" for p in (*PARTS, "other")]])
    return pd.concat(frames, ignore_index=True)
