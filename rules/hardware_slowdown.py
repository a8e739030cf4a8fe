"""hardware-slowdown: HW slowdown or external power brake without a thermal cause."""

from __future__ import annotations

import numpy as np

from profiler.engine import Evidence, Finding, Threshold, Thresholds, rule
from profiler.features import Features
from rules import _gpu_clocks as gc

MIN_ACTIVE_SHARE = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source="NVML nvmlClocksEventReasonHwSlowdown: 'may also be reported during PState or "
           "clock change' (nvml.md §3.8), so brief HW-slowdown samples at load changes are "
           "benign; 5 % of busy time is more than those edges",
    help="share of the GPU's busy time with HW slowdown / power brake active")
GPU_THERMAL_TEMP = Threshold(
    85.0, unit="celsius", bounds=(0.0, 150.0),
    source="nvidia-smi -q on A100 (driver 525): GPU Max Operating Temp 85 C, Slowdown Temp "
           "89 C; H100 PCIe product brief: max operating 87 C, slowdown 89 C. From the lowest "
           "max operating temperature up, over-temperature can be what raised HW slowdown",
    help="GPU temperature at or above which a HW slowdown may be thermal (then not counted)")
MEM_THERMAL_TEMP = Threshold(
    95.0, unit="celsius", bounds=(0.0, 150.0),
    source="nvidia-smi -q on A100 / H100: Memory Max Operating Temp 95 C (HBM)",
    help="HBM temperature at or above which a HW slowdown may be thermal (then not counted)")


@rule(
    id="hardware-slowdown",
    title="GPU clocks cut by hardware slowdown or power brake",
    needs=("gpu.clocks_event_reasons|gpu.throttle.power_brake", "gpu.clock_sm",
           "gpu.util|gpu.gr_engine_active|gpu.clocks_event_reasons"),
    thresholds={"min_active_share": MIN_ACTIVE_SHARE, "min_clock_deficit": gc.MIN_CLOCK_DEFICIT,
                "gpu_thermal_temp": GPU_THERMAL_TEMP, "mem_thermal_temp": MEM_THERMAL_TEMP},
    remediation="Check power delivery: PSU health and redundancy, the GPU's power cables and "
                "connectors, BMC/SEL logs for a power-brake assertion; if it follows one GPU "
                "across slots, RMA it.",
    groups=("gpu", "power", "clocks", "hardware"),
)
def hardware_slowdown(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU's clocks were cut by hardware slowdown or the external power brake, not by heat.

    Fires when: HW slowdown (clock event reason 0x8) or HW power brake (0x80, or the
    gpu.throttle.power_brake duration counter) is active during at least `min_active_share` of
    the GPU's busy time with no thermal reason set and the GPU below `gpu_thermal_temp` and its
    HBM below `mem_thermal_temp`, and the SM clock was on average at least `min_clock_deficit`
    under its maximum. HW slowdown cuts clocks by half or more, so even short spells cost much.
    gpu_time_lost charges busy x (1 - clock/max) in those bins, over all GPU-time.
    Does not fire when: a thermal reason (0x20/0x40) is set in the same bins, or the GPU or HBM
    is at its thermal limits (a thermal cause: thermal-throttling); the spells are as short as
    a P-state change; the clocks are not reduced; the GPU is idle.
    Remedy: investigate power delivery (PSU, cables, BMC power-brake events) or an external
    brake signal; a GPU that keeps it after a reseat in another slot needs an RMA.
    Sources: NVML nvmlClocksEventReasonHwSlowdown (0x8: over-temperature, external power brake
    or over-power) and HwPowerBrakeSlowdown (0x80), NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_
    BRAKE_SLOWDOWN (nvml.md §3.8); nvidia-smi -q temperature thresholds.
    """
    reasons = gc.reason_mask(f)
    every = gc.causes(f, reasons)
    busy = gc.busy(f, reasons)
    clk = gc.clocks(f)
    temp = gc.on_gpus(f, f.wide("gpu.temp"))
    mem_temp = gc.on_gpus(f, f.wide("gpu.mem_temp"))
    hot = (temp >= th.gpu_thermal_temp) | (mem_temp >= th.mem_thermal_temp)
    own = every.hardware.where(~hot, 0.0)
    stats = gc.throttle(f, own, every, busy, clk, th.min_clock_deficit)
    fired = stats.active_share.index[(stats.active_share >= th.min_active_share)
                                     & (stats.deficit >= th.min_clock_deficit)]
    brake = gc.ratio_or_bits(f, "gpu.throttle.power_brake", reasons, gc.POWER_BRAKE_BIT)
    braked = brake.fillna(0.0).where(stats.active, 0.0).sum()
    slowed = gc.bits(reasons, gc.HW_SLOWDOWN_BIT).fillna(0.0).where(stats.active, 0.0).sum()
    hot_share = (every.hardware.fillna(0.0) > 0).where(hot, False).mean()
    median_temp = temp.where(stats.active).median()
    findings = []
    for gpu in fired:
        share, deficit = float(stats.active_share[gpu]), float(stats.deficit[gpu])
        clock, maximum = float(stats.clock[gpu]), float(clk.maximum[gpu])
        b_sum, s_sum = float(braked.get(gpu, 0.0)), float(slowed.get(gpu, 0.0))
        is_brake = b_sum > 0 and b_sum >= s_sum
        what = ("HW slowdown (0x8) and power brake (0x80)" if b_sum > 0 and s_sum > 0 else
                "external power brake (0x80)" if is_brake else "HW slowdown (0x8)")
        t = float(median_temp.get(gpu, np.nan))
        at = f" at {t:.0f} °C" if np.isfinite(t) else ""
        evidence = [
            Evidence("gpu.throttle.power_brake" if is_brake and f.has("gpu.throttle.power_brake")
                     else gc.REASONS, gpu, share, th.min_active_share, "ratio",
                     f"share of busy time with {what} active and no thermal cause"),
            Evidence("gpu.clock_sm", gpu, deficit, th.min_clock_deficit, "ratio",
                     "mean 1 - SM clock / max SM clock while slowed"),
            Evidence("gpu.clock_sm", gpu, clock, None, "Hz",
                     f"median SM clock while slowed, max {gc.mhz(maximum)} MHz"),
        ]
        if np.isfinite(t):
            evidence.append(Evidence("gpu.temp", gpu, t, th.gpu_thermal_temp, "celsius",
                                     "median GPU temperature while slowed: below thermal limits"))
        notes = []
        if not np.isfinite(t):
            notes.append("GPU temperature not recorded: a thermal cause cannot be ruled out "
                         "beyond the absent thermal reason bits")
        if float(hot_share.get(gpu, 0.0)) > 0:
            notes.append(f"{gc.pct(float(hot_share[gpu]))} of samples had HW slowdown at "
                         "thermal limits: left to thermal causes, not counted here")
        if gpu in clk.inferred_max:
            notes.append("max SM clock not recorded: took the highest clock seen on the host, "
                         "so the loss may be underestimated")
        findings.append(Finding(
            entities=(gpu,),
            gpu_time_lost=float(stats.lost[gpu]),
            evidence=tuple(evidence),
            summary=(f"{gpu} slowed by {what} {gc.pct(share)} of busy time{at}, "
                     f"SM clock {gc.mhz(clock)} of {gc.mhz(maximum)} MHz: "
                     "power delivery or external brake"),
            notes=tuple(notes),
        ))
    return findings
