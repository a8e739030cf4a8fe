"""Small numpy generators of GPU traces with a known ground truth, for the GPU rule tests.

Each generator returns a GpuSeries: the metrics of one GPU (canonical names, SI units) and the
truth the rule should recover (GPU-bins lost, share of busy time in a state). They are
deliberately simple, but noisy: utilization jitters, clocks wobble by boost steps, throttling
comes in episodes of random length, idle stretches set the GpuIdle bit and drop the clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from profiler.trace import Trace

MHZ_STEP = 15e6  # SM clocks move in 15 MHz steps
IDLE_CLOCK = 345e6
GPU_IDLE = 0x1


@dataclass
class GpuSeries:
    metrics: dict[str, np.ndarray]
    lost_bins: float = 0.0  # sum over bins of busy x deficit x active share: GPU-bins lost
    busy_share: float = 0.0  # share of busy bins in the state the rule looks for
    flagged: bool = False  # whether the rule should name this GPU
    extra: dict[str, float] = field(default_factory=dict)


def episodes(rng: np.random.Generator, n: int, k: int, mean_len: float = 8.0) -> np.ndarray:
    """A boolean mask of length n with exactly k True, in runs of random length."""
    k = int(np.clip(k, 0, n))
    if k == 0:
        return np.zeros(n, dtype=bool)
    if k == n:
        return np.ones(n, dtype=bool)
    m = int(np.clip(round(k / mean_len), 1, min(k, n - k + 1)))
    on = _composition(rng, k, m, minimum=1)
    gaps = _composition(rng, n - k - (m - 1), m + 1, minimum=0)
    gaps[1:-1] += 1  # interior gaps at least one bin, so episodes stay apart
    lengths = np.empty(2 * m + 1, dtype=np.int64)
    lengths[0::2], lengths[1::2] = gaps, on
    values = np.zeros(2 * m + 1, dtype=bool)
    values[1::2] = True
    return np.repeat(values, lengths)


def _composition(rng: np.random.Generator, total: int, parts: int, minimum: int) -> np.ndarray:
    """`parts` non-negative ints summing to `total`, each at least `minimum`."""
    spare = total - parts * minimum
    cuts = np.sort(rng.integers(0, spare + 1, size=parts - 1))
    return np.diff(np.concatenate([[0], cuts, [spare]])) + minimum


def clock_gpu(rng: np.random.Generator, n: int, *, share: float = 0.0, deficit: float = 0.0,
              bits: int = 0x20, counter: str | None = None, idle_share: float = 0.1,
              busy_level: float = 0.95, noise: float = 0.03, max_clock: float = 1.98e9,
              temp_state: float = 90.0, temp_normal: float = 65.0) -> GpuSeries:
    """One GPU whose clocks are held down by a reason in `share` of its busy bins.

    With `counter` (a gpu.throttle.* metric) the throttle covers a random part r of each
    throttled bin, the counter reports r and the SM clock sample is throttled with probability
    r (an instantaneous sample); without it the reason `bits` are sampled with the clock.
    """
    idle = np.zeros(n, dtype=bool)
    idle[n - round(idle_share * n):] = True
    busy_idx = np.flatnonzero(~idle)
    state = np.zeros(n, dtype=bool)
    state[busy_idx] = episodes(rng, len(busy_idx), round(share * len(busy_idx)))
    util = np.where(idle, 0.0, np.clip(busy_level + rng.normal(0, noise, n), 0.05, 1.0))
    d = np.where(state, np.clip(deficit + rng.normal(0, 0.02, n), 0.0, 0.95), 0.0)
    r = np.where(state, rng.uniform(0.3, 1.0, n) if counter else 1.0, 0.0)
    sampled = state & (rng.random(n) < r) if counter else state
    throttled_clock = np.round(max_clock * (1.0 - d) / MHZ_STEP) * MHZ_STEP
    d = 1.0 - throttled_clock / max_clock  # the deficit the GPU really ran at
    clock = np.where(idle, IDLE_CLOCK, np.where(sampled, throttled_clock, max_clock))
    reasons = np.where(idle, GPU_IDLE, np.where(sampled, bits, 0)).astype(float)
    temp = np.where(state, temp_state, temp_normal) + rng.normal(0, 1.0, n)
    metrics = {
        "gpu.util": util, "gpu.clock_sm": clock, "gpu.clock_sm_max": np.full(n, max_clock),
        "gpu.temp": np.round(temp), "gpu.clocks_event_reasons": reasons,
    }
    if counter:
        metrics[counter] = r
        metrics["gpu.clocks_event_reasons"] = np.where(idle, GPU_IDLE, 0).astype(float)
    lost = float(np.sum(util * r * d))
    return GpuSeries(metrics, lost_bins=lost,
                     busy_share=float(np.sum(util * r) / np.sum(util)),
                     flagged=share > 0 and deficit > 0)


def trace_of(gpus: dict[str, GpuSeries], **kwargs: object) -> Trace:
    return Trace.from_series({g: s.metrics for g, s in gpus.items()}, **kwargs)  # type: ignore[arg-type]


def true_loss(gpus: dict[str, GpuSeries], n: int) -> dict[str, float]:
    """Per GPU label: its lost GPU-bins over all GPU-bins of the trace."""
    return {f"node1/{g}": s.lost_bins / (n * len(gpus)) for g, s in gpus.items()}


def with_power(rng: np.random.Generator, gpu: GpuSeries, *, limit: float = 700.0,
               near_limit_everywhere: bool = False) -> GpuSeries:
    """Add draw and enforced limit: at the limit where capped (reason 0x4 sampled), else below."""
    reasons = gpu.metrics["gpu.clocks_event_reasons"].astype(np.int64)
    capped = (reasons & 0x4) != 0
    at = near_limit_everywhere | capped
    n = len(reasons)
    power = np.where(at, limit * rng.uniform(0.96, 1.0, n), limit * rng.uniform(0.55, 0.85, n))
    power = np.where((reasons & GPU_IDLE) != 0, 70.0 + rng.normal(0, 2, n), power)
    gpu.metrics["gpu.power"] = power
    gpu.metrics["gpu.power_limit"] = np.full(n, limit)
    return gpu


# Pipe activity per busy state: (sm_active, tensor, fp16, fp32, dram)
PIPE_STATES = {
    "tensor": (0.85, 0.45, 0.20, 0.10, 0.35),   # mixed-precision training
    "fp32": (0.85, 0.00, 0.02, 0.55, 0.30),     # FP32 math, tensor cores unused
    "memory": (0.60, 0.02, 0.03, 0.08, 0.80),   # element-wise, bandwidth-bound
}


def pipes_gpu(rng: np.random.Generator, n: int, *, fp32_share: float = 0.0,
              memory_share: float = 0.0, idle_share: float = 0.1,
              noise: float = 0.03) -> GpuSeries:
    """One GPU whose busy bins are tensor-heavy, FP32-without-tensor or memory-bound."""
    n_idle = round(idle_share * n)
    n_busy = n - n_idle
    k_fp32, k_mem = round(fp32_share * n_busy), round(memory_share * n_busy)
    state = np.array(["tensor"] * (n_busy - k_fp32 - k_mem) + ["fp32"] * k_fp32
                     + ["memory"] * k_mem)
    state = np.concatenate([rng.permutation(state), np.array(["idle"] * n_idle)])
    table = {**PIPE_STATES, "idle": (0.0, 0.0, 0.0, 0.0, 0.0)}
    values = np.array([table[s] for s in state])  # test fixture: a loop over n states is fine
    # counters wobble in proportion to their level (a pipe at 0 stays near 0)
    jitter = values * rng.normal(0, noise / 0.5, values.shape) + rng.normal(0, 0.003, values.shape)
    sm, tensor, fp16, fp32, dram = np.clip(values + jitter * (state != "idle")[:, None], 0, 1).T
    util = np.where(state == "idle", 0.0, np.clip(0.97 + rng.normal(0, noise, n), 0.6, 1.0))
    metrics = {"gpu.util": util, "gpu.sm_active": sm, "gpu.tensor_active": tensor,
               "gpu.fp16_active": fp16, "gpu.fp32_active": fp32, "gpu.dram_active": dram}
    return GpuSeries(metrics, extra={"fp32": k_fp32 / n_busy, "memory": k_mem / n_busy})


def pcie_gpu(rng: np.random.Generator, n: int, *, gen: int = 4, width: int = 16,
             max_gen: int = 4, max_width: int = 16, busy_share: float = 0.6,
             lag: int = 1) -> GpuSeries:
    """Busy episodes train the link to (gen, width); idle drops it to Gen1 (power saving).

    The link sample lags the utilization by `lag` samples at each busy start, as an
    instantaneous link sample against a utilization averaged over the sample period would.
    """
    busy = episodes(rng, n, round(busy_share * n), mean_len=30.0)
    util = np.where(busy, np.clip(0.9 + rng.normal(0, 0.05, n), 0.5, 1.0), 0.0)
    trained = np.concatenate([np.zeros(lag, dtype=bool), busy[:-lag]]) & busy if lag else busy
    metrics = {"gpu.util": util,
               "gpu.pcie_gen": np.where(trained, gen, 1).astype(float),
               "gpu.pcie_width": np.full(n, float(width)),
               "gpu.pcie_gen_max": np.full(n, float(max_gen)),
               "gpu.pcie_width_max": np.full(n, float(max_width))}
    return GpuSeries(metrics, flagged=gen < max_gen or width < max_width)


def run_rule(trace: Trace, rule_id: str, **thresholds: float):  # -> RuleOutcome
    """Run one registered rule through the real engine, with threshold overrides."""
    import rules  # noqa: F401 - registers every rule
    from profiler.engine import RuleSettings, run_rules
    from profiler.features import Features

    return run_rules(Features(trace), RuleSettings(overrides={rule_id: thresholds}),
                     rule_ids=[rule_id])


def counter_tolerance(r: np.ndarray) -> float:
    """Relative tolerance of a loss estimated from instantaneous clock samples against a
    duration counter: 4 standard deviations of the Bernoulli(r) sampling, relative."""
    r = r[r > 0]
    return float(4.0 * np.sqrt(np.sum(r * (1 - r))) / np.sum(r)) if r.size else 0.0
