"""Every GPU rule of this package survives odd traces: missing metrics, gaps, junk values,
several hosts, uneven sampling. It returns findings with a loss in [0, 1] or None, or says
"not checked"; it never raises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rules  # noqa: F401 - registers every rule
from profiler.engine import run_rules
from profiler.features import Features
from profiler.trace import GpuInfo, Trace, TraceMeta

GPU_RULES = ("thermal-throttling", "power-capping", "hardware-slowdown", "tensor-cores-unused",
             "memory-bandwidth-bound", "gpu-memory-pressure", "pcie-link-degraded",
             "gpu-hardware-errors")
METRICS = {
    "gpu.util": (0, 1), "gpu.gr_engine_active": (0, 1), "gpu.sm_active": (0, 1),
    "gpu.tensor_active": (0, 1), "gpu.dram_active": (0, 1), "gpu.fp32_active": (0, 1),
    "gpu.fp16_active": (0, 1), "gpu.fp64_active": (0, 1), "gpu.clock_sm": (3e8, 2.1e9),
    "gpu.clock_sm_max": (1.4e9, 2e9), "gpu.temp": (20, 100), "gpu.mem_temp": (20, 100),
    "gpu.power": (50, 800), "gpu.power_limit": (300, 700), "gpu.throttle.thermal": (0, 1),
    "gpu.throttle.power_cap": (0, 1), "gpu.throttle.power_brake": (0, 1),
    "gpu.throttle.sync_boost": (0, 1), "gpu.fb_used": (0, 8e10), "gpu.fb_free": (0, 8e10),
    "gpu.fb_total": (8e10, 8e10), "gpu.fb_used_ratio": (0, 1), "gpu.pcie_gen": (1, 5),
    "gpu.pcie_gen_max": (3, 5), "gpu.pcie_width": (1, 16), "gpu.pcie_width_max": (8, 16),
    "gpu.pcie_tx": (0, 3e10), "gpu.pcie_rx": (0, 3e10), "gpu.ecc_uncorrected": (0, 3),
    "gpu.row_remap_pending": (0, 1), "gpu.row_remap_failure": (0, 1),
    "gpu.remapped_rows_uncorrectable": (0, 5), "gpu.xid_last": (0, 120),
}
INTEGER = {"gpu.pcie_gen", "gpu.pcie_gen_max", "gpu.pcie_width", "gpu.pcie_width_max",
           "gpu.ecc_uncorrected", "gpu.row_remap_pending", "gpu.row_remap_failure",
           "gpu.remapped_rows_uncorrectable", "gpu.xid_last"}


def _random_trace(rng: np.random.Generator) -> Trace:
    frames = []
    for host in [f"node{h}" for h in range(int(rng.integers(1, 3)))]:
        for gpu in [f"gpu{g}" for g in range(int(rng.integers(1, 4)))]:
            n = int(rng.integers(1, 60))
            ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
                np.sort(rng.uniform(0, n, n)), unit="s")
            names = list(rng.choice(list(METRICS), size=int(rng.integers(0, 20)), replace=False))
            names += ["gpu.clocks_event_reasons"] if rng.random() < 0.7 else []
            for name in names:
                low, high = METRICS.get(name, (0, 0x1FF))
                values = rng.uniform(low, high * 1.2, n)
                if name in INTEGER or name == "gpu.clocks_event_reasons":
                    values = np.floor(values)
                values[rng.random(n) < 0.1] = np.nan
                frames.append(pd.DataFrame({"ts": ts, "host": host, "entity": gpu,
                                            "metric": name, "value": values}).dropna())
    samples = pd.concat(frames) if frames else pd.DataFrame(
        columns=["ts", "host", "entity", "metric", "value"])
    gpus = tuple(GpuInfo("node0", "gpu0", 0, max_sm_clock=2e9, pcie_max_gen=5,
                         pcie_max_width=16, power_limit=700.0, memory_total=8e10)
                 for _ in range(int(rng.random() < 0.5)))
    events = [{"ts": "2026-01-01T00:00:03Z", "entity": "gpu0",
               "kind": str(rng.choice(["xid", "gpu_lost", "ecc", "note"])),
               "code": int(rng.integers(0, 160))} for _ in range(int(rng.integers(0, 3)))]
    base = Trace.from_series({}, events=events)
    meta = TraceMeta(source=str(rng.choice(["record", "nvidia-smi"])),
                     interval_s=float(rng.choice([0.5, 1.0, 2.0])), gpus=gpus)
    return Trace(Trace.from_series({}).samples if samples.empty else
                 _normal(samples), meta, base.events)


def _normal(samples: pd.DataFrame) -> pd.DataFrame:
    from profiler.trace import normalize_samples

    return normalize_samples(samples.reset_index(drop=True))


@pytest.mark.parametrize("seed", range(100))
def test_rules_never_raise_on_odd_traces(seed: int) -> None:
    rng = np.random.default_rng(seed)
    outcome = run_rules(Features(_random_trace(rng)), rule_ids=list(GPU_RULES))
    assert len(outcome.checked) + len(outcome.not_checked) == len(GPU_RULES)
    for finding in outcome.findings:
        assert finding.gpu_time_lost is None or 0.0 <= finding.gpu_time_lost <= 1.0
        assert finding.entities and finding.summary
        assert "nan" not in finding.summary.lower(), finding.summary
        assert all(np.isfinite(e.observed) or np.isnan(e.observed) for e in finding.evidence)
