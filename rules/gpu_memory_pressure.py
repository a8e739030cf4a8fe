"""gpu-memory-pressure: framebuffer nearly full, a risk of out-of-memory errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features
from rules._gpu_clocks import on_gpus, pct

NEAR_FULL = Threshold(
    0.95, unit="ratio", bounds=(0.0, 1.0),
    source="Glances [gpu] mem_critical=90 (docs/aoa/gpu.rst), raised to 95 % because caching "
           "allocators hold freed blocks (PyTorch CUDA semantics: memory stays reserved) and "
           "JAX preallocates 75 % by default, so 90 % is routine for a healthy job",
    help="used / usable framebuffer at or above which a GPU counts as nearly full")
MIN_FULL_SHARE = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source="project choice: under a tenth of the samples is one allocation burst, not a "
           "working set that lives at the edge (severity info)",
    help="share of samples nearly full for the rule to fire")
SUSTAINED_SHARE = Threshold(
    0.50, unit="ratio", bounds=(0.0, 1.0),
    source="project choice: nearly full for most of the window, i.e. sustained, the way a "
           "Prometheus alert's `for:` clause asks for a condition to persist (severity warning)",
    help="share of samples nearly full at or above which the finding is a warning")


@rule(
    id="gpu-memory-pressure",
    title="GPU memory nearly full",
    needs=("gpu.fb_used_ratio|gpu.fb_used",),
    thresholds={"near_full": NEAR_FULL, "min_full_share": MIN_FULL_SHARE,
                "sustained_share": SUSTAINED_SHARE},
    remediation="Leave headroom: smaller micro-batches with gradient accumulation, activation "
                "checkpointing, sharded optimizer states (ZeRO/FSDP), PYTORCH_CUDA_ALLOC_CONF="
                "expandable_segments:True against fragmentation; if the framework preallocates "
                "(TensorFlow by default, JAX at 75 %), a full framebuffer is by design.",
    groups=("gpu", "memory"),
)
def gpu_memory_pressure(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU's framebuffer is nearly full: the next large allocation may fail.

    Fires when: used / usable framebuffer is at or above `near_full` in at least
    `min_full_share` of a GPU's samples; severity warning when that share reaches
    `sustained_share`, else info. The ratio is gpu.fb_used_ratio (DCGM FB_USED_RATIO, used over
    total minus reserved), else fb_used / (fb_used + fb_free), else fb_used / fb_total, else
    fb_used / the GPU's memory_total from metadata. gpu_time_lost is None: a full framebuffer is
    a risk (out-of-memory, allocator fragmentation and retries), not a measured cost.
    Does not fire when: usage peaks near full only briefly; usage stays under `near_full`.
    Not checked when the framebuffer size cannot be known (only fb_used, no free/total/metadata).
    Remedy: reduce peak memory (micro-batch, checkpointing, sharding) or fight fragmentation;
    frameworks that preallocate look full by design.
    Sources: NVML nvmlDeviceGetMemoryInfo v2 and DCGM_FI_DEV_FB_USED_RATIO (nvml.md §3.3);
    Glances GPU memory thresholds; PyTorch CUDA semantics (caching allocator); JAX GPU memory
    allocation docs (XLA_PYTHON_CLIENT_MEM_FRACTION default .75).
    """
    used = on_gpus(f, f.wide("gpu.fb_used"))
    ratio = on_gpus(f, f.wide("gpu.fb_used_ratio"))
    ratio = ratio.combine_first(used / (used + on_gpus(f, f.wide("gpu.fb_free"))))
    total = on_gpus(f, f.wide("gpu.fb_total")).max().fillna(_meta_total(f))
    ratio = ratio.combine_first(used / total.where(total > 0)).clip(0.0, 1.0)
    known = ratio.notna().sum()
    if not (known > 0).any():
        raise NotChecked("framebuffer size unknown: gpu.fb_used without gpu.fb_free, "
                         "gpu.fb_total or the GPU's memory_total")
    full = (ratio >= th.near_full).sum() / known.where(known > 0)
    fired = full.index[full >= th.min_full_share]
    usable = (used / ratio.where(ratio > 0)).median()
    findings = []
    for gpu in fired:
        share, peak = float(full[gpu]), float(ratio[gpu].max())
        evidence = [
            Evidence("gpu.fb_used_ratio", gpu, share, th.min_full_share, "ratio",
                     f"share of samples at or above {pct(th.near_full)} of usable memory"),
            Evidence("gpu.fb_used_ratio", gpu, peak, th.near_full, "ratio",
                     "peak used / usable framebuffer"),
        ]
        size = ""
        peak_used, cap = float(used[gpu].max()), float(usable.get(gpu, np.nan))
        if np.isfinite(peak_used) and np.isfinite(cap):
            size = f", {peak_used / 2**30:.1f} of {cap / 2**30:.1f} GiB"
            evidence.append(Evidence("gpu.fb_used", gpu, peak_used, th.near_full * cap, "bytes",
                                     "peak framebuffer in use"))
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=None,
            severity="warning" if share >= th.sustained_share else "info",
            evidence=tuple(evidence),
            summary=(f"{gpu} framebuffer at least {pct(th.near_full)} full {pct(share)} of the "
                     f"time (peak {pct(peak)}{size}): out-of-memory risk"),
        ))
    return findings


def _meta_total(f: Features) -> pd.Series:
    sizes = {}
    for gpu in f.gpus:
        host, _, entity = gpu.partition("/")
        info = f.trace.meta.gpu(host, entity)
        sizes[gpu] = float(info.memory_total) if info and info.memory_total else np.nan
    return pd.Series(sizes, dtype="float64")
