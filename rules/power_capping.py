"""power-capping: GPU clocks lowered by the software power cap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules import _gpu_clocks as gc

MIN_ACTIVE_SHARE = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source="DCGM's power health watch warns on any power violation time "
           "(NVIDIA/DCGM modules/health/DcgmHealthWatch.cpp, MonitorPower); we ask for 5 % of "
           "busy time so that one sample at a load change does not fire",
    help="share of the GPU's busy time with the SW power cap active")
POWER_AT_LIMIT = Threshold(
    0.90, unit="ratio", bounds=(0.0, 1.0),
    source="nvml.md §3.10: draw is a 1 s average on Ampere+ (instantaneous on GA100 and "
           "older) while the SW power controller works on shorter windows, so a capped GPU's "
           "reading sits a few percent under the enforced limit; 0.9 allows for that averaging",
    help="power / enforced limit at or above which a capped bin counts as 'at the limit'")


@rule(
    id="power-capping",
    title="GPU clocks lowered by the power cap",
    needs=("gpu.clocks_event_reasons|gpu.throttle.power_cap", "gpu.clock_sm",
           "gpu.util|gpu.gr_engine_active|gpu.clocks_event_reasons"),
    thresholds={"min_active_share": MIN_ACTIVE_SHARE, "min_clock_deficit": gc.MIN_CLOCK_DEFICIT,
                "power_at_limit": POWER_AT_LIMIT},
    remediation="Check the enforced power limit (nvidia-smi -q -d POWER): raise it to the "
                "board default if it was lowered (nvidia-smi -pl), or accept the cap as a "
                "deliberate energy/throughput trade-off; a rack power budget may be the cause.",
    groups=("gpu", "power", "clocks"),
)
def power_capping(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU ran kernels at reduced SM clocks to stay under its power limit.

    Fires when: the software power-cap reason (clock event reason 0x4, or the
    gpu.throttle.power_cap duration counter, preferred) is active during at least
    `min_active_share` of the GPU's busy time, with the SM clock on average at least
    `min_clock_deficit` below its maximum, and, where draw and limit are recorded, the draw at
    `power_at_limit` x the enforced limit or above. gpu_time_lost charges busy x (1 - clock/max)
    in those bins (split with any other clock-limiting reason active in the same bin), over all
    GPU-time.
    Does not fire when: the draw is near the limit but the cap bit is clear (a GPU running
    right at its budget at full clock loses nothing); the bit is set while the recorded draw is
    well under the limit (stale or glitched reason); the clocks are not reduced; the GPU is
    idle (GpuIdle 0x1).
    Remedy: restore the default power limit, or treat the cap as a chosen trade-off; check rack
    or PSU budgets that lower the enforced limit.
    Sources: NVML nvmlClocksEventReasonSwPowerCap (0x4) and
    NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP (nvml.md §3.8, §3.10: "power-capping evidence
    = SW_POWER_CAP bit/counter, not draw ~ limit alone"); DCGM DcgmHealthWatch::MonitorPower.
    """
    reasons = gc.reason_mask(f)
    every = gc.causes(f, reasons)
    busy = gc.busy(f, reasons)
    clk = gc.clocks(f)
    power = gc.on_gpus(f, f.wide("gpu.power"))
    limit = _limit(f)
    at_limit = power >= th.power_at_limit * limit
    unknown = power.isna() | limit.isna()
    own = every.power_cap.where(at_limit | unknown, 0.0)
    stats = gc.throttle(f, own, every, busy, clk, th.min_clock_deficit)
    fired = stats.active_share.index[(stats.active_share >= th.min_active_share)
                                     & (stats.deficit >= th.min_clock_deficit)]
    draw = power.where(stats.active).median()
    cap = limit.where(stats.active).median()
    source = "gpu.throttle.power_cap" if f.has("gpu.throttle.power_cap") else gc.REASONS
    findings = []
    for gpu in fired:
        share, deficit = float(stats.active_share[gpu]), float(stats.deficit[gpu])
        clock, maximum = float(stats.clock[gpu]), float(clk.maximum[gpu])
        w, lim = float(draw[gpu]), float(cap[gpu])
        evidence = [
            Evidence(source, gpu, share, th.min_active_share, "ratio",
                     "share of busy time with the SW power cap (0x4) active"),
            Evidence("gpu.clock_sm", gpu, deficit, th.min_clock_deficit, "ratio",
                     "mean 1 - SM clock / max SM clock while capped"),
            Evidence("gpu.clock_sm", gpu, clock, None, "Hz",
                     f"median SM clock while capped, max {gc.mhz(maximum)} MHz"),
        ]
        at = ""
        if np.isfinite(w) and np.isfinite(lim):
            at = f" at {w:.0f} of {lim:.0f} W"
            evidence.append(Evidence("gpu.power", gpu, w, th.power_at_limit * lim, "W",
                                     f"median draw while capped; enforced limit {lim:.0f} W"))
        notes = []
        if not at:
            notes.append("draw or power limit not recorded: the cap bit alone is the evidence")
        if gpu in clk.inferred_max:
            notes.append("max SM clock not recorded: took the highest clock seen on the host, "
                         "so the loss may be underestimated")
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=float(stats.lost[gpu]),
            evidence=tuple(evidence),
            summary=(f"{gpu} power-capped {gc.pct(share)} of busy time{at}, "
                     f"SM clock {gc.mhz(clock)} of {gc.mhz(maximum)} MHz"),
            notes=tuple(notes),
        ))
    return findings


def _limit(f: Features) -> pd.DataFrame:
    """Enforced power limit per bin: the metric (gaps filled with its own value), else metadata."""
    limit = gc.on_gpus(f, f.wide("gpu.power_limit"))
    limit = limit.ffill().bfill()
    meta = {}
    for gpu in limit.columns:
        host, _, entity = gpu.partition("/")
        info = f.trace.meta.gpu(host, entity)
        meta[gpu] = float(info.power_limit) if info and info.power_limit else np.nan
    return limit.fillna(pd.Series(meta, dtype="float64")).where(lambda x: x > 0)
