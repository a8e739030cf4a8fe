"""The real Recorder with the NVML collector over a fake 8x H100, written and read back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collectors.nvml import NvmlCollector
from profiler.recorder import Recorder
from profiler.storage import read_trace
from tests.fake_nvml_core import MIB
from tests.fake_pynvml import FakeNvml, fake_nvml

__all__ = ["fake_nvml"]


def test_recording_has_gpu_metrics_and_gpu_metadata(fake_nvml: Callable[..., FakeNvml],
                                                    tmp_path: Path) -> None:
    fake = fake_nvml("h100x8")
    out = tmp_path / "trace"
    collector = NvmlCollector(slow_period_s=0.1, event_wait_ms=50)
    Recorder([collector], interval_s=0.05, flush_s=0.2, output=out).run(duration_s=0.5)
    trace = read_trace(out)

    samples = trace.samples
    assert set(samples["entity"].astype(str)) == {f"gpu{i}" for i in range(8)}
    assert set(trace.metrics) == set(NvmlCollector.provides)
    ticks = samples[(samples["entity"] == "gpu0") & (samples["metric"] == "gpu.power")]
    assert 8 <= len(ticks) <= 10 and (ticks["value"] == 612.45).all()
    assert trace.meta.complete and trace.meta.unavailable == ()
    assert trace.meta.hosts[0].driver_version == "590.48.01"
    assert trace.meta.hosts[0].cuda_driver_version == "13.1"

    gpus = trace.meta.gpus
    assert len(gpus) == 8
    for i, gpu in enumerate(gpus):
        assert gpu.entity == f"gpu{i}" and gpu.host == trace.meta.hosts[0].name
        assert gpu.name == "NVIDIA H100 80GB HBM3" and gpu.uuid == fake.gpus[i].uuid
        assert gpu.bus_id == fake.gpus[i].bus_id and gpu.numa_node == i // 4
        assert (gpu.pcie_max_gen, gpu.pcie_max_width, gpu.nvlink_count) == (5, 16, 18)
        assert gpu.memory_total == 81559 * MIB and gpu.power_limit == 700.0
        assert gpu.max_sm_clock == 1980e6 and gpu.architecture == "hopper"
    assert fake.initialized == 0  # closed and shut down
