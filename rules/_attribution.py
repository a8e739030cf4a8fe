"""Shared arithmetic for rules that blame GPU idle time on a cause (not a rule module).

A cause is a bins x GPUs frame (1.0 present, 0.0 absent, NaN unknown); the effect is a bins x GPUs
"wait" frame (the share of each bin a GPU was not working, NaN outside the job's window). The
verdict compares the two in time, so that a cause that is merely present does not get the blame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Threshold, Thresholds
from profiler.features import CoOccurrence, Features, host_of

TF_INPUT_ANALYSIS = ("TensorFlow profiler input-pipeline analysis "
                     "(tensorflow/core/profiler/convert/op_stats_to_input_pipeline_analysis.cc)")

MIN_GPU_TIME_LOST = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source=f"{TF_INPUT_ANALYSIS}: below 5 % of step time waiting for input a program is 'not "
           "input-bound' (kModeratelyInfeedBoundThresholdInPercent = 5); the PyTorch TensorBoard "
           "plugin recommends more DataLoader workers above the same 5 % (pytorch/kineto "
           "tb_plugin/torch_tb_profiler/profiler/data.py, dataloader_ratio > 0.05)",
    help="smallest share of the affected host's GPU-time the cause must cost to be reported")
MIN_LIFT = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source="twice the 5 % input-bound floor of the TensorFlow profiler: the extra idle share "
           "while the cause is present is the cause's effect size, and NVML utilization is a "
           "1/6-1 s sample (nvml.md 3.1), so per-bin idle shares carry several points of noise",
    help="GPUs must be idler by this much (share of time) when the cause is present than absent")
MIN_Z = Threshold(
    3.0, unit="standard errors", bounds=(0.0, 100.0),
    source="statistics: a lift of 3 standard errors (Welch) has a one-sided p of about 0.001 "
           "under no association; the sample size counts bins, not GPU-bins, because GPUs of "
           "one job idle together",
    help="the lift must stand out from chance by this many standard errors")
ALWAYS_SHARE = Threshold(
    0.90, unit="ratio", bounds=(0.5, 1.0),
    source="statistics: with fewer than 1 bin in 10 free of the cause, the idle share without "
           "it rests on too few bins to compare; the cause must then cover at least the same "
           "share of all idle time",
    help="cause present in at least this share of bins: lift is not measurable")
ALWAYS_MIN_IDLE = Threshold(
    0.20, unit="ratio", bounds=(0.0, 1.0),
    source=f"{TF_INPUT_ANALYSIS}: 20 % of step time waiting for input is 'HIGHLY input-bound' "
           "(kHighlyInfeedBoundThresholdInPercent = 20)",
    help="when the cause is present throughout, GPUs must be idle at least this share of time")
STARTUP_UTIL = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source="NVML utilization counts any kernel at all (nvml.md 3.1): a bin with a kernel "
           "running 10 % of the time marks the job as started; leading and trailing bins below "
           "it are start-up or teardown, not waiting, as the TensorFlow profiler also skips "
           "its first steps",
    help="the job's window runs from the first to the last bin a GPU is at least this busy")

ATTRIBUTION_THRESHOLDS: dict[str, Threshold] = {
    "min_gpu_time_lost": MIN_GPU_TIME_LOST,
    "min_lift": MIN_LIFT,
    "min_z": MIN_Z,
    "always_share": ALWAYS_SHARE,
    "always_min_idle": ALWAYS_MIN_IDLE,
    "startup_util": STARTUP_UTIL,
}


def pct(x: float) -> str:
    """A share 0..1 as "34 %"."""
    return "n/a" if x != x else f"{100.0 * x:.0f} %"


def gpu_names(gpus: list[str]) -> str:
    """ "gpu0, gpu1 on node1", "8 GPUs on node1", or the full labels across hosts."""
    hosts = sorted({host_of(g) for g in gpus})
    if len(hosts) != 1:
        return ", ".join(gpus)
    names = [g.split("/", 1)[-1] for g in gpus]
    listed = ", ".join(names) if len(names) <= 4 else f"{len(names)} GPUs"
    return f"{listed} on {hosts[0]}"


def host_gpus(f: Features, host: str) -> list[str]:
    return [g for g in f.gpus if host_of(g) == host]


def host_columns(frame: pd.DataFrame, host: str) -> list[str]:
    return [c for c in frame.columns if host_of(c) == host]


def host_series(f: Features, metric: str, host: str) -> pd.Series | None:
    """The host-wide series of `metric` on `host` (entity "host"), or None."""
    frame = f.wide(metric)
    return frame[host] if host in frame.columns else None


def job_window(util: pd.DataFrame, active: float) -> pd.DataFrame:
    """True from each GPU's first to its last bin with util >= `active` (start-up/teardown off)."""
    a = (util >= active).to_numpy()
    n = a.shape[0]
    if n == 0:
        return pd.DataFrame(a, index=util.index, columns=util.columns)
    first = a.argmax(axis=0)
    last = n - 1 - a[::-1].argmax(axis=0)
    rows = np.arange(n)[:, None]
    mask = (rows >= first[None, :]) & (rows <= last[None, :]) & a.any(axis=0)[None, :]
    return pd.DataFrame(mask, index=util.index, columns=util.columns)


def windowed_idle(f: Features, th: Thresholds) -> pd.DataFrame:
    """gpu_idle() with each GPU's start-up and teardown bins (and never-used GPUs) set to NaN."""
    util = f.gpu_util()
    return f.gpu_idle().where(job_window(util, th.startup_util))


def hot(values: pd.Series | pd.DataFrame, threshold: float) -> pd.DataFrame | pd.Series:
    """1.0 where values >= threshold, 0.0 below, NaN where unknown."""
    return (values >= threshold).astype("float64").where(values.notna())


@dataclass(frozen=True, slots=True)
class Attribution:
    """How one cause lines up with the GPUs' wait, and whether that is enough to blame it."""

    co: CoOccurrence
    lost_by_gpu: pd.Series  # per GPU: wait during the cause, as a fraction of ALL GPU-time
    own_lost: pd.Series  # per GPU: wait during the cause, as a fraction of that GPU's bins
    always: bool
    z: float
    fires: bool

    def named_gpus(self, th: Thresholds) -> list[str]:
        """GPUs that lost at least the reporting floor of their own time (else all that lost)."""
        named = [g for g, v in self.own_lost.items() if v >= th.min_gpu_time_lost]
        return named or [g for g, v in self.own_lost.items() if v > 0]

    def idle_share(self, gpus: list[str]) -> float:
        """Mean share of their own time the named GPUs waited during the cause."""
        return float(self.own_lost.reindex(gpus).mean()) if gpus else float("nan")

    def explain(self, waiting: str = "idle") -> str:
        """The timing test in words; `waiting` names the effect ("idle", "in exposed ...")."""
        co = self.co
        if self.always:
            return (f"cause present in {pct(co.cause_share)} of GPU-bins, so the time GPUs are "
                    f"{waiting} with and without it cannot be compared; {pct(co.idle_with)} "
                    f"while it is present, {pct(co.idle_covered)} of all such time covered")
        z = f"z {self.z:.1f}" if self.z < 100 else "z > 100"
        return (f"GPUs {waiting} {pct(co.idle_with)} of the time with the cause vs "
                f"{pct(co.idle_without)} without (lift {co.lift:.2f}, {z}); "
                f"{pct(co.idle_covered)} of all such time coincides with it")


def _lift_z(wait: np.ndarray, cause: np.ndarray, k: int) -> float:
    valid = np.isfinite(wait) & np.isfinite(cause)
    w, c = wait[valid], cause[valid] > 0.5
    n_with, n_without = int(c.sum()), int((~c).sum())
    if n_with < 2 or n_without < 2:
        return 0.0
    lift = float(w[c].mean() - w[~c].mean())
    k = max(k, 1)
    se = math.sqrt(float(w[c].var(ddof=1)) / max(n_with / k, 1.0)
                   + float(w[~c].var(ddof=1)) / max(n_without / k, 1.0))
    if se == 0.0:  # noiseless: any difference is certain, in its own direction
        return math.copysign(math.inf, lift) if lift != 0.0 else 0.0
    return lift / se


def attribute(f: Features, cause: pd.DataFrame, wait: pd.DataFrame,
              th: Thresholds) -> Attribution:
    """Blame `wait` (bins x GPUs) on `cause` (bins x GPUs) only if they line up in time.

    The floor `min_gpu_time_lost` applies to the GPUs in `wait` (one host's, for host causes),
    so that one swapping node of a 64-node fleet is still named; the loss reported stays a
    share of all GPU-time, which ranks it against the rest of the fleet.
    """
    cause = cause.reindex(index=wait.index, columns=wait.columns)
    co = f.cooccurrence(cause, wait)
    total = f.gpu_bins() or 1
    own_share = co.lost * total / max(f.gpu_bins(list(wait.columns)), 1)
    present = (cause > 0.5) & wait.notna()
    during = wait.where(present).fillna(0.0)
    lost_by_gpu = during.sum() / total
    own_lost = during.sum() / wait.notna().sum().replace(0, np.nan)
    always = co.cause_share >= th.always_share
    z = _lift_z(wait.to_numpy(dtype="float64"), cause.to_numpy(dtype="float64"),
                len(wait.columns))
    if own_share < th.min_gpu_time_lost:
        fires = False
    elif always:
        fires = co.idle_with >= th.always_min_idle and co.idle_covered >= th.always_share
    else:
        fires = co.lift >= th.min_lift and z >= th.min_z
    return Attribution(co, lost_by_gpu, own_lost.fillna(0.0), always, z, fires)


def weighted_mean(values: pd.Series, weight: pd.Series) -> float:
    """Mean of `values` weighted by `weight` (e.g. the host's idle share during the cause)."""
    v = values.to_numpy(dtype="float64")
    w = weight.reindex(values.index).to_numpy(dtype="float64")
    ok = np.isfinite(v) & np.isfinite(w) & (w > 0)
    return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else float("nan")


def wait_during(attribution_wait: pd.DataFrame, cause: pd.Series) -> pd.Series:
    """Per bin: the host's mean wait where the host-level cause is present, else 0."""
    mean_wait = attribution_wait.mean(axis=1)
    return mean_wait.where(cause > 0.5, 0.0).fillna(0.0)


def evidence_for(metric: str, entity: str, values: pd.Series, weight: pd.Series,
                 threshold: float | None, unit: str, note: str) -> Evidence:
    return Evidence(metric, entity, weighted_mean(values, weight), threshold, unit, note)


def attribution_evidence(a: Attribution, host: str, metric: str = "gpu.util",
                         waiting: str = "idle") -> Evidence:
    """`metric` (default GPU utilization, 1 - the waiting share) while the cause is present,
    with the timing test that blamed it."""
    return Evidence(metric, host, 1.0 - a.co.idle_with, None, "ratio",
                    note="mean while the cause is present; " + a.explain(waiting))
