"""Shared arithmetic of the clock-reason rules (thermal, power-capping, hardware-slowdown).

Per GPU and grid bin the three rules look at the same four numbers:

  r        how much of the bin a cause held the clocks down: the duration-counter ratio
           (gpu.throttle.*) where the trace has it, exact; else 1.0 / 0.0 from the sampled
           clock-event reason bit. Bits are OR-ed over the samples of a bin, never averaged.
  busy     the share of the bin a kernel ran (gpu.util, else gr_engine_active), or, where no
           utilization was recorded, 1 - the GpuIdle bit (0x1).
  deficit  1 - clock_sm / clock_sm_max, from the max-clock metric, else the GPU's metadata,
           else the highest SM clock seen on the host (a lower bound: the loss is then
           underestimated, and the finding says so).
  share    r of this cause over r of every clock-limiting cause active in the bin, so two
           causes active together (a hot GPU at its power cap) split the deficit instead of
           both claiming all of it.

A kernel running at clock ratio c for busy time b does the work of b * c at full clock, so the
cause costs busy * deficit * share of that GPU-bin. Where r comes from a counter and the clock is
an instantaneous sample, the sample falls inside the throttled part of the bin with probability
r, so charging the sampled deficit in every bin with r > 0 is unbiased in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.catalog import CLOCK_EVENT_BITS
from profiler.engine import Threshold
from profiler.features import Features, host_of

REASONS = "gpu.clocks_event_reasons"
IDLE_BIT = CLOCK_EVENT_BITS["gpu_idle"]
THERMAL_BITS = CLOCK_EVENT_BITS["sw_thermal_slowdown"] | CLOCK_EVENT_BITS["hw_thermal_slowdown"]
POWER_CAP_BIT = CLOCK_EVENT_BITS["sw_power_cap"]
HW_SLOWDOWN_BIT = CLOCK_EVENT_BITS["hw_slowdown"]
POWER_BRAKE_BIT = CLOCK_EVENT_BITS["hw_power_brake_slowdown"]
OTHER_BITS = (CLOCK_EVENT_BITS["applications_clocks_setting"] | CLOCK_EVENT_BITS["sync_boost"]
              | CLOCK_EVENT_BITS["display_clock_setting"])

MIN_CLOCK_DEFICIT = Threshold(
    0.02, unit="ratio", bounds=(0.0, 1.0),
    source="physics: SM clocks move in boost steps of 15 MHz (A100 1410, H100 1980, the "
           "1755/1695/1665 MHz of real captures are all multiples), 0.75-1 % of the maximum; "
           "2 % is two steps, above step-to-step jitter",
    help="mean 1 - clock/max while the reason is active; below it the clocks are not reduced")


def on_gpus(f: Features, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` on the full grid, one column per GPU (NaN where the GPU has no value)."""
    return frame.reindex(index=f.index, columns=f.gpus).astype("float64")


def reason_mask(f: Features) -> pd.DataFrame:
    """Bins x GPUs: the clock-event reason bits of every sample in the bin OR-ed together
    (Features ORs bitmask metrics per bin). NaN where the GPU has no reason sample in the bin.
    """
    return on_gpus(f, f.wide(REASONS))


def bits(reasons: pd.DataFrame, mask: int) -> pd.DataFrame:
    """1.0 where any bit of `mask` is set in the bin's reasons, 0.0 where clear, NaN unknown."""
    values = reasons.to_numpy()
    known = np.isfinite(values)
    hit = (np.where(known, values, 0).astype("int64") & mask) != 0
    return pd.DataFrame(np.where(known, hit.astype("float64"), np.nan), index=reasons.index,
                        columns=reasons.columns)


def ratio_or_bits(f: Features, metric: str, reasons: pd.DataFrame, mask: int) -> pd.DataFrame:
    """The duration-counter ratio `metric` where present (exact), else the reason bits `mask`."""
    ratio = on_gpus(f, f.wide(metric)).clip(0.0, 1.0)
    return ratio.combine_first(bits(reasons, mask))


def busy(f: Features, reasons: pd.DataFrame) -> pd.DataFrame:
    """Share of each bin a kernel ran: utilization, else 1 - GpuIdle bit, else NaN."""
    util = on_gpus(f, f.gpu_util())
    return util.combine_first(1.0 - bits(reasons, IDLE_BIT))


def total_gpu_bins(f: Features, busy_frame: pd.DataFrame) -> int:
    """The denominator of gpu_time_lost: observed GPU-bins (Features.gpu_bins, or busy-known)."""
    return max(f.gpu_bins(), int(busy_frame.notna().to_numpy().sum()))


@dataclass(frozen=True, slots=True)
class Clocks:
    """SM clock, its maximum per GPU, and the deficit 1 - clock/max per bin."""

    clock: pd.DataFrame
    maximum: pd.Series
    deficit: pd.DataFrame
    inferred_max: frozenset[str]


def clocks(f: Features) -> Clocks:
    """SM clock deficit; the maximum from gpu.clock_sm_max, else metadata, else the host's peak."""
    clock = on_gpus(f, f.wide("gpu.clock_sm"))
    maximum = on_gpus(f, f.wide("gpu.clock_sm_max")).max()
    meta = pd.Series({g: _meta_max_clock(f, g) for g in clock.columns}, dtype="float64")
    maximum = maximum.fillna(meta)
    host_peak = clock.max().groupby([host_of(g) for g in clock.columns]).max()
    observed = pd.Series({g: host_peak.get(host_of(g), np.nan) for g in clock.columns},
                         dtype="float64")
    inferred = frozenset(str(g) for g in maximum.index[maximum.isna() & observed.notna()])
    maximum = maximum.fillna(observed).where(lambda m: m > 0)
    deficit = (1.0 - clock / maximum).clip(0.0, 1.0)
    return Clocks(clock, maximum, deficit, inferred)


def _meta_max_clock(f: Features, label: str) -> float:
    host, _, entity = label.partition("/")
    info = f.trace.meta.gpu(host, entity)
    return float(info.max_sm_clock) if info and info.max_sm_clock else np.nan


@dataclass(frozen=True, slots=True)
class Causes:
    """How much of each bin each clock-limiting cause was active (0..1, NaN -> unknown)."""

    thermal: pd.DataFrame
    power_cap: pd.DataFrame
    hardware: pd.DataFrame
    other: pd.DataFrame

    @property
    def total(self) -> pd.DataFrame:
        """Sum of the causes' r, the denominator of each cause's share of a bin's deficit."""
        parts = (self.thermal, self.power_cap, self.hardware, self.other)
        return sum((p.fillna(0.0) for p in parts[1:]), parts[0].fillna(0.0))


def causes(f: Features, reasons: pd.DataFrame) -> Causes:
    """Every clock-limiting cause; HW slowdown counts only where no thermal reason is active
    (HW slowdown 0x8 is also raised by over-temperature, and then it is thermal's)."""
    thermal = ratio_or_bits(f, "gpu.throttle.thermal", reasons, THERMAL_BITS)
    power_cap = ratio_or_bits(f, "gpu.throttle.power_cap", reasons, POWER_CAP_BIT)
    brake = ratio_or_bits(f, "gpu.throttle.power_brake", reasons, POWER_BRAKE_BIT)
    hardware = pd.DataFrame(np.fmax(brake.to_numpy(), bits(reasons, HW_SLOWDOWN_BIT).to_numpy()),
                            index=f.index, columns=brake.columns)
    hardware = hardware.where(~(thermal.fillna(0.0) > 0), 0.0)
    sync = on_gpus(f, f.wide("gpu.throttle.sync_boost")).clip(0.0, 1.0)
    other = pd.DataFrame(np.fmax(sync.to_numpy(), bits(reasons, OTHER_BITS).to_numpy()),
                         index=f.index, columns=sync.columns)
    return Causes(thermal, power_cap, hardware, other)


@dataclass(frozen=True, slots=True)
class Throttle:
    """Per GPU (Series indexed by GPU label) statistics of one cause.

    active_share: busy time with the cause active over all busy time.
    deficit: mean clock deficit while the cause was active (busy-weighted).
    lost: GPU-time this cause cost, as a fraction of ALL GPU-time in the window.
    clock: median SM clock in busy bins with the cause active and the clock reduced.
    active: bins x GPUs, True where the cause was active and the GPU busy.
    """

    active_share: pd.Series
    deficit: pd.Series
    lost: pd.Series
    clock: pd.Series
    active: pd.DataFrame


def throttle(f: Features, own: pd.DataFrame, every: Causes, busy_frame: pd.DataFrame,
             clk: Clocks, min_deficit: float) -> Throttle:
    """Statistics of the cause whose per-bin r is `own`, charged its share of each bin's deficit.

    The median clock is taken over active bins whose clock sample is at least `min_deficit`
    below the maximum (with a duration counter, samples in the unthrottled part of a bin show
    the full clock), else over all active bins.
    """
    r = own.fillna(0.0).clip(0.0, 1.0)
    total = every.total
    share = (r / total.where(total > 0)).fillna(0.0).clip(0.0, 1.0)
    on = r > 0
    b = busy_frame
    known = b.notna() & clk.deficit.notna()
    bz = b.where(known, 0.0)
    dz = clk.deficit.where(known, 0.0)
    busy_total = b.sum()
    active_share = (b.fillna(0.0) * r).sum() / busy_total.where(busy_total > 0)
    weight = (bz * r).sum()
    deficit = ((bz * dz).where(on, 0.0).sum() / weight.where(weight > 0)).clip(upper=1.0)
    denominator = total_gpu_bins(f, b)
    lost = (bz * dz * share).sum() / denominator if denominator else bz.sum() * 0.0
    active = on & (b.fillna(0.0) > 0)
    reduced = clk.clock.where(active & (clk.deficit >= min_deficit)).median()
    return Throttle(
        active_share=active_share,
        deficit=deficit,
        lost=lost,
        clock=reduced.fillna(clk.clock.where(active).median()),
        active=active,
    )


def median_where(f: Features, metric: str, mask: pd.DataFrame) -> pd.Series:
    """Per GPU: the median of `metric` over the bins where `mask` is True (NaN if none)."""
    frame = on_gpus(f, f.wide(metric))
    return frame.where(mask.reindex(columns=frame.columns, fill_value=False)).median()


def mhz(hz: float) -> str:
    return f"{hz / 1e6:.0f}" if np.isfinite(hz) else "?"


def pct(ratio: float) -> str:
    return f"{100.0 * ratio:.0f} %"
