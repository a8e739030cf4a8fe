"""data-starved (timeline): the training loop waits in the DataLoader while the GPU idles."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import (
    MIN_GPU_TIME_LOST,
    NEEDS,
    PRIORITY,
    TB_PLUGIN,
    VARIANT,
    analysis,
    ms,
    pct,
    share,
)

DATALOADER_SHARE = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source=f"the PyTorch TensorBoard plugin recommends more DataLoader workers when DataLoader "
           f"time is over 5 % of the step ({TB_PLUGIN}, dataloader_ratio > 0.05)",
    help="DataLoader time as a share of the mean step (TB-plugin step breakdown)")


@rule(
    id="data-starved",
    title="GPUs wait on input",
    needs=NEEDS,
    thresholds={"dataloader_share": DATALOADER_SHARE, "min_gpu_time_lost": MIN_GPU_TIME_LOST},
    remediation="Feed the GPU faster: more DataLoader workers (num_workers), pin_memory=True "
                "with non_blocking copies, persistent_workers and prefetch_factor, cheaper "
                "decoding/augmentation or preprocessed data.",
    groups=("input",),
    variant=VARIANT,
    priority=PRIORITY,
)
def data_starved(f: Features, th: Thresholds) -> list[Finding]:
    """The training loop waits for batches in the DataLoader while the GPU idles.

    Fires when: on a rank, `enumerate(DataLoader)#...__next__` spans take more than
    `dataloader_share` of the mean step (the TensorBoard plugin's step breakdown) and the GPU
    is idle under those spans for at least `min_gpu_time_lost` of all GPU time. The loss is
    that idle time: GPU time inside the rank's first-to-last activity span with no kernel,
    copy or sync running while the loop waited in the DataLoader.
    Does not fire when: the DataLoader share is at or below the plugin's 5 % (it overlaps
    with GPU work, as with enough workers), the GPU kept working under it, or the trace has
    no DataLoader annotations (then nothing says it waited for input).
    Remedy: more loader workers, pinned memory, prefetching, cheaper preprocessing.
    Sources: PyTorch TensorBoard plugin (DataLoader > 5 % of step time); HTA temporal
    breakdown for GPU idle time.
    """
    a = analysis(f)
    findings = []
    for info in a.ranks:
        if info.rank not in a.step_summary.index:
            continue
        loader = float(a.step_summary.loc[info.rank, "dataloader_pct"]) / 100.0
        idle_ns = float(a.exposure.loc[info.rank, "dataloader_idle_ns"])
        lost = share(idle_ns, a)
        if not loader > th.dataloader_share or lost < th.min_gpu_time_lost:
            continue
        step_us = float(a.step_summary.loc[info.rank, "step_time_us"])
        n_steps = int(a.step_summary.loc[info.rank, "steps"])
        kind = info.loader or "DataLoader"
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=lost,
            evidence=(Evidence("timeline.dataloader_share", info.entity, loader,
                               th.dataloader_share, "ratio", note=f"mean over {n_steps} steps of "
                                             f"{step_us / 1e3:.1f} ms"),
                      Evidence("timeline.idle_in_dataloader", info.entity, lost,
                               th.min_gpu_time_lost, "ratio",
                               note=f"{ms(idle_ns)} of GPU idle under DataLoader spans")),
            summary=(f"rank {info.rank} spends {pct(loader)} of each step in {kind}.__next__ "
                     f"while its GPU idles ({ms(idle_ns)}, {pct(lost)} of GPU time)")))
    return findings
