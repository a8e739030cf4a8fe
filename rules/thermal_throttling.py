"""thermal-throttling: GPU clocks lowered by software or hardware thermal slowdown."""

from __future__ import annotations

import numpy as np

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules import _gpu_clocks as gc

MIN_ACTIVE_SHARE = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source="DCGM's thermal health watch warns on any thermal violation time "
           "(NVIDIA/DCGM modules/health/DcgmHealthWatch.cpp, MonitorThermal); we ask for 5 % of "
           "busy time so that one sample at a P-state change (nvml.md §3.8) does not fire",
    help="share of the GPU's busy time with SW/HW thermal slowdown active")


@rule(
    id="thermal-throttling",
    title="GPU clocks lowered by thermal slowdown",
    needs=("gpu.clocks_event_reasons|gpu.throttle.thermal", "gpu.clock_sm",
           "gpu.util|gpu.gr_engine_active|gpu.clocks_event_reasons"),
    thresholds={"min_active_share": MIN_ACTIVE_SHARE, "min_clock_deficit": gc.MIN_CLOCK_DEFICIT},
    remediation="Check inlet air temperature, fans and airflow of the chassis; a GPU hot on its "
                "own points at its heatsink or thermal paste (reseat or RMA it); hot HBM "
                "points at memory-heavy kernels in a badly cooled slot.",
    groups=("gpu", "thermal", "clocks"),
)
def thermal_throttling(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU ran kernels at reduced SM clocks because it was too hot.

    Fires when: NVML reports software or hardware thermal slowdown (clock event reasons 0x20 /
    0x40, or the gpu.throttle.thermal duration counter, preferred because it is exact) during at
    least `min_active_share` of a GPU's busy time, and the SM clock was then on average at least
    `min_clock_deficit` below the GPU's maximum. gpu_time_lost charges busy x (1 - clock/max) in
    the throttled bins (split with any other clock-limiting reason active in the same bin),
    summed over the GPU's bins, over all GPU-time; one GPU of 8 costs at most 1/8 by itself.
    Does not fire when: the GPU is hot but no thermal reason is set, or a thermal reason is set
    but the clocks are at their maximum ("hot but unthrottled"); clocks drop because the GPU is
    idle (GpuIdle 0x1 is never throttling, and idle bins cost no busy time); the power cap or a
    hardware slowdown without a thermal cause lowers the clocks (power-capping,
    hardware-slowdown).
    Remedy: improve cooling: inlet temperature, fans, airflow, blanking panels; a single hot
    GPU needs its heatsink checked. Temperature evidence names the GPU die and the HBM.
    Sources: NVML nvmlClocksEventReasons (SwThermalSlowdown 0x20, HwThermalSlowdown 0x40) and
    NVML_FI_DEV_CLOCKS_EVENT_REASON_SW/HW_THERM_SLOWDOWN duration counters (nvml.md §3.8);
    DCGM DcgmHealthWatch::MonitorThermal; nvidia-smi -q thresholds (A100: max operating 85 C,
    slowdown 89 C, HBM max 95 C).
    """
    reasons = gc.reason_mask(f)
    every = gc.causes(f, reasons)
    busy = gc.busy(f, reasons)
    clk = gc.clocks(f)
    stats = gc.throttle(f, every.thermal, every, busy, clk, th.min_clock_deficit)
    fired = stats.active_share.index[(stats.active_share >= th.min_active_share)
                                     & (stats.deficit >= th.min_clock_deficit)]
    temp = gc.median_where(f, "gpu.temp", stats.active)
    mem_temp = gc.median_where(f, "gpu.mem_temp", stats.active)
    source = "gpu.throttle.thermal" if f.has("gpu.throttle.thermal") else gc.REASONS
    findings = []
    for gpu in fired:
        share, deficit = float(stats.active_share[gpu]), float(stats.deficit[gpu])
        clock, maximum = float(stats.clock[gpu]), float(clk.maximum[gpu])
        t, mt = float(temp.get(gpu, np.nan)), float(mem_temp.get(gpu, np.nan))
        where = f" at {t:.0f} °C" if np.isfinite(t) else ""
        where += f" (HBM {mt:.0f} °C)" if np.isfinite(mt) else ""
        evidence = [
            Evidence(source, gpu, share, th.min_active_share, "ratio",
                     "share of busy time with SW/HW thermal slowdown (0x20/0x40) active"),
            Evidence("gpu.clock_sm", gpu, deficit, th.min_clock_deficit, "ratio",
                     "mean 1 - SM clock / max SM clock while throttled"),
            Evidence("gpu.clock_sm", gpu, clock, None, "Hz",
                     f"median SM clock while throttled, max {gc.mhz(maximum)} MHz"),
        ]
        if np.isfinite(t):
            evidence.append(Evidence("gpu.temp", gpu, t, None, "celsius",
                                     "median GPU temperature while throttled"))
        if np.isfinite(mt):
            evidence.append(Evidence("gpu.mem_temp", gpu, mt, None, "celsius",
                                     "median HBM temperature while throttled"))
        notes = (("max SM clock not recorded: took the highest clock seen on the host, so the "
                  "loss may be underestimated",) if gpu in clk.inferred_max else ())
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=float(stats.lost[gpu]),
            evidence=tuple(evidence),
            summary=(f"{gpu} thermally throttled {gc.pct(share)} of busy time{where}, "
                     f"SM clock {gc.mhz(clock)} of {gc.mhz(maximum)} MHz"),
            notes=notes,
        ))
    return findings
