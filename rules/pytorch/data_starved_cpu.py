"""data-starved-cpu (timeline): the training process loads its own batches (num_workers=0)."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import NEEDS, PRIORITY, VARIANT, analysis, pct
from rules.pytorch.data_starved import DATALOADER_SHARE

SINGLE_PROCESS = "_SingleProcessDataLoaderIter"


@rule(
    id="data-starved-cpu",
    title="Batches are prepared on the training process's CPU",
    needs=NEEDS,
    thresholds={"dataloader_share": DATALOADER_SHARE},
    remediation="Load in worker processes: DataLoader(num_workers=N) with N up to the free CPU "
                "cores per GPU, persistent_workers=True, pin_memory=True; move augmentation to "
                "the GPU (DALI, torchvision.transforms.v2 on tensors) if the cores run out.",
    groups=("input", "cpu"),
    variant=VARIANT,
    priority=PRIORITY,
)
def data_starved_cpu(f: Features, th: Thresholds) -> list[Finding]:
    """The CPU work of loading batches runs inside the training loop itself.

    Fires when: a rank's DataLoader is `_SingleProcessDataLoaderIter` (num_workers=0), so
    reading, decoding and augmenting each batch happens on the training thread, and the
    DataLoader takes more than `dataloader_share` of the mean step. The GPU time it costs is
    data-starved's (reported there, not counted twice): this finding names the cause.
    Does not fire when: workers load the batches (`_MultiProcessingDataLoaderIter`: their
    CPU use is not in the trace, see data-starved), or the loader takes 5 % of the step or less.
    Remedy: worker processes for loading; GPU-side augmentation when CPU cores run out.
    Sources: PyTorch torch/utils/data/dataloader.py (single-process iterator for
    num_workers=0); PyTorch TensorBoard plugin (DataLoader > 5 % of step time).
    """
    a = analysis(f)
    findings = []
    for info in a.ranks:
        if info.loader != SINGLE_PROCESS or info.rank not in a.step_summary.index:
            continue
        loader = float(a.step_summary.loc[info.rank, "dataloader_pct"]) / 100.0
        if not loader > th.dataloader_share:
            continue
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=None, severity="warning",
            evidence=(Evidence("timeline.dataloader_share", info.entity, loader,
                               th.dataloader_share, "ratio",
                               note=f"{SINGLE_PROCESS}: loading runs on the training thread"),),
            summary=(f"rank {info.rank} loads its batches on the training thread "
                     f"(num_workers=0): {pct(loader)} of each step; the GPU time lost is "
                     "counted under data-starved")))
    return findings
