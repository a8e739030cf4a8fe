"""straggler (timeline): one rank reaches the collectives last and the others wait for it."""

from __future__ import annotations

import numpy as np

from profiler.engine import Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import (
    MIN_GPU_TIME_LOST,
    NEEDS,
    PRIORITY,
    VARIANT,
    analysis,
    ms,
    pct,
    share,
)

MIN_LAST_SHARE = Threshold(
    0.5, unit="ratio", bounds=(0.0, 1.0),
    source="definition: a straggler is the rank the others wait for most of the time; last "
           "into at least half of the collectives (with 2 ranks, more often than the other)",
    help="share of collectives the straggler must start last")
MIN_STEP_EXCESS = Threshold(
    0.10, unit="ratio", bounds=(0.0, 10.0),
    source="peers waiting for a straggler wait inside the collective, which a step profile "
           "shows as communication time; the PyTorch TensorBoard plugin reports 'high time "
           "cost on communication' above 10 % of step time (pytorch/kineto tb_plugin/"
           "torch_tb_profiler/profiler/data.py)",
    help="without collectives: the slowest rank's mean step must exceed the median by this")


@rule(
    id="straggler",
    title="A straggler holds its peers back",
    needs=NEEDS,
    thresholds={"min_gpu_time_lost": MIN_GPU_TIME_LOST, "min_last_share": MIN_LAST_SHARE,
                "min_step_excess": MIN_STEP_EXCESS},
    remediation="Find why that rank is late: uneven work (rank 0 logging, evaluating or "
                "checkpointing), a slower GPU or host, its own input pipeline; even it out or "
                "move the extra work off the critical path.",
    groups=("gpu", "distributed"),
    variant=VARIANT,
    priority=PRIORITY,
    merge_per_host=False,
)
def straggler(f: Features, th: Thresholds) -> list[Finding]:
    """One rank starts the collectives late, and every other rank waits inside them.

    Fires when: with traces of two or more ranks, one rank starts the k-th communication
    kernel last in at least `min_last_share` of the collectives, and the waiting it causes
    (for each such collective, the sum over ranks of its start minus theirs) is at least
    `min_gpu_time_lost` of all GPU time; that waiting is the loss. Without collectives, the
    slowest rank's mean step exceeds the median rank's by `min_step_excess`, and the loss is
    the other ranks' shortfall against it.
    Does not fire when: one rank's trace only (not checked), ranks arrive in turn, or the
    waiting is small. Clocks of different hosts are compared as recorded.
    Remedy: balance the work across ranks.
    Sources: HTA get_potential_stragglers (late collective starts across ranks); PyTorch
    TensorBoard plugin (communication > 10 % of step time).
    """
    a = analysis(f)
    if len(a.ranks) < 2:
        raise NotChecked("needs the traces of two or more ranks")
    x = a.cross_rank
    if x["collectives"].notna().any() and float(x["collectives"].max()) > 0:
        worst = int(x["wait_caused_us"].astype(float).idxmax())
        row = x.loc[worst]
        last_share = float(row["times_last"]) / float(row["collectives"])
        lost = share(float(row["wait_caused_us"]) * 1e3, a)
        if last_share < th.min_last_share or lost < th.min_gpu_time_lost:
            return []
        note = (f"last into {int(row['times_last'])} of {int(row['collectives'])} collectives, "
                f"{float(row['late_mean_us']) / 1e3:.1f} ms late on average")
        observed, metric = last_share, "timeline.last_into_collective"
        summary = (f"rank {worst} reaches the collectives last ({pct(last_share)} of them); "
                   f"the other ranks wait {ms(float(row['wait_caused_us']) * 1e3)} for it, "
                   f"{pct(lost)} of GPU time")
    else:
        step = x["step_time_us"].astype(float).dropna()
        if len(step) < 2:
            return []
        worst = int(step.idxmax())
        median = float(np.median(step.to_numpy()))
        excess = float(step[worst]) / median - 1.0 if median > 0 else 0.0
        steps = a.step_summary["steps"].reindex(step.index).fillna(0).to_numpy(dtype=float)
        waited = float(((step[worst] - step).to_numpy() * steps).sum()) * 1e3
        lost = share(waited, a)
        if excess < th.min_step_excess or lost < th.min_gpu_time_lost:
            return []
        observed, metric = excess, "timeline.step_time_excess"
        note = f"mean step {step[worst] / 1e3:.1f} ms against the median {median / 1e3:.1f} ms"
        summary = (f"rank {worst}'s steps take {pct(excess)} longer than the median rank's; "
                   f"the others wait {pct(lost)} of GPU time")
    info = a.info(worst)
    return [Finding(entities=(info.entity.split("/", 1)[0],), gpu_time_lost=lost,
                    evidence=(Evidence(metric, info.entity, observed, None, "ratio",
                                       note=note),),
                    summary=summary)]
