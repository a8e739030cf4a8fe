"""Physical consistency of the simulated metrics, scenario by scenario (several seeds each)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from profiler.simulate import SCENARIOS
from profiler.simulate.capacity import transfer
from profiler.simulate.hardware import (
    DISK_WRITE_BPS,
    IB_PORT_BPS,
    NVLINK_LINK_BYTES_PER_S,
    NVLINK_LINKS,
    SM_CLOCK_MAX_HZ,
    TEMP_MAX_OPERATING_C,
)
from profiler.simulate.integrate import Grid
from profiler.simulate.params import Setup
from profiler.simulate.render import Noise
from profiler.simulate.render_gpu import BG_RX_BPS
from profiler.simulate.runner import _run, _seeded, simulate
from tests.simulate.helpers import BRAKE, IDLE, POWER_CAP, THERMAL, Run, Wide, bits, metric

SEEDS = [pytest.param(s, id=f"seed{s}") for s in (0, 1, 2)]
GPUS = [f"gpu{i}" for i in range(8)]
NVLINK_CAPACITY = NVLINK_LINKS * NVLINK_LINK_BYTES_PER_S


def gpu_mean(trace_samples: pd.DataFrame, name: str) -> pd.Series:
    """Per GPU entity of node1, the mean of a metric."""
    rows = metric(trace_samples, name)
    rows = rows[rows["host"] == "node1"]
    means = rows.groupby(rows["entity"].astype(str))["value"].mean()
    return means.loc[[g for g in GPUS if g in means.index]]


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_has_no_throttle_reasons_and_is_busy(run: Run, wide: Wide, seed: int) -> None:
    t = run("healthy", seed=seed)
    for gpu in GPUS:
        w = wide(t, gpu)
        assert not (bits(w, ~IDLE)).any()
        idle = bits(w, IDLE)
        assert (w.loc[idle, "gpu.util"] < 0.9).all()  # GpuIdle only when the GPU really idles
        assert w["gpu.util"].mean() > 0.95 and w["gpu.sm_active"].mean() > 0.85
        assert (w[["gpu.throttle.power_cap", "gpu.throttle.thermal",
                   "gpu.throttle.power_brake"]] == 0).all().all()
        assert w["gpu.temp"].max() < 75 and w["gpu.power"].between(450, 660).mean() > 0.95


@pytest.mark.parametrize("seed", SEEDS)
def test_power_capping_pins_power_at_the_limit(run: Run, wide: Wide, seed: int) -> None:
    for gpu in GPUS:
        w = wide(run("power-capping", seed=seed), gpu)
        capped = bits(w, POWER_CAP)
        assert capped.mean() > 0.6
        limit = w["gpu.power_limit"].iloc[0]
        assert limit == 450
        assert (w["gpu.power"] >= 0.93 * limit).mean() > 0.9
        assert (w["gpu.power"] <= 1.015 * limit).all()
        assert (w.loc[capped, "gpu.clock_sm"] < 0.95 * SM_CLOCK_MAX_HZ).all()
        # the duration counter and the sampled bit tell the same story
        assert w["gpu.throttle.power_cap"].mean() == pytest.approx(capped.mean(), abs=0.1)


@pytest.mark.parametrize("seed", SEEDS)
def test_thermal_throttling_slows_gpu3_and_everyone_waits(run: Run, wide: Wide,
                                                          seed: int) -> None:
    t = run("thermal-throttling", seed=seed)
    hot = wide(t, "gpu3")
    slow = bits(hot, THERMAL)
    assert slow.mean() > 0.8
    assert (hot.loc[slow, "gpu.temp"] >= TEMP_MAX_OPERATING_C - 1).all()
    assert hot.loc[slow, "gpu.temp"].median() >= TEMP_MAX_OPERATING_C
    assert hot["gpu.throttle.thermal"].mean() == pytest.approx(slow.mean(), abs=0.1)
    clocks = gpu_mean(t.samples, "gpu.clock_sm")
    assert clocks["gpu3"] < 0.9 * clocks.drop("gpu3").min()
    for gpu in GPUS:
        if gpu != "gpu3":
            w = wide(t, gpu)
            assert not bits(w, THERMAL).any() and w["gpu.temp"].max() < 80
    # synchronous job: the others wait for gpu3 at every all-reduce
    healthy = gpu_mean(run("healthy", seed=seed).samples, "gpu.sm_active")
    waiting = gpu_mean(t.samples, "gpu.sm_active").drop("gpu3")
    assert (waiting < healthy.drop("gpu3") - 0.05).all()


def test_hot_lookalike_is_hot_but_not_throttled(run: Run, wide: Wide) -> None:
    for seed in (0, 1, 2, 3):
        w = wide(run("lookalike-hot-gpu", seed=seed), "gpu2")
        assert not bits(w, THERMAL).any()
        busy = w["gpu.util"] > 0.9
        assert w.loc[busy, "gpu.temp"].between(79, 84).all()
        assert w.loc[busy, "gpu.temp"].median() >= 80
        assert (w.loc[busy, "gpu.clock_sm"] == SM_CLOCK_MAX_HZ).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_storage_starvation_idles_gpus_while_the_disk_is_saturated(run: Run, wide: Wide,
                                                                   seed: int) -> None:
    t = run("data-starved-storage", seed=seed)
    disk, host = wide(t, "nvme0n1"), wide(t, "host")
    for gpu in GPUS:
        w = wide(t, gpu)
        starving = (w["gpu.util"] < 0.75) & (disk["disk.busy"] > 0.9)
        assert starving.mean() > 0.8  # idle GPUs and a saturated disk, in the same samples
        assert bits(w, IDLE).mean() > 0.25
    assert disk["disk.read"].mean() > 5e9 and disk["disk.queue_depth"].mean() > 30
    assert host["host.cpu.iowait"].mean() > 0.1 and host["host.psi.io_some"].mean() > 0.9
    assert host["host.procs_blocked"].mean() > 10
    healthy = wide(run("healthy", seed=seed), "nvme0n1")
    assert healthy["disk.busy"].max() < 0.5


def test_starvation_follows_the_fault_in_time(run: Run, wide: Wide) -> None:
    """Host swap storm: before memory runs out the GPUs are busy, after it they wait, and the
    memory pressure signals rise in the same samples."""
    t = run("host-swap-storm", duration_s=600)
    host, gpu = wide(t, "host"), wide(t, "gpu0")
    before, after = slice(0, 100), slice(200, 600)
    assert gpu["gpu.util"].iloc[before].mean() > 0.95
    assert gpu["gpu.util"].iloc[after].mean() < 0.75
    assert host["host.psi.memory_some"].iloc[before].max() < 0.05
    assert host["host.psi.memory_some"].iloc[after].mean() > 0.6
    assert (host["host.swap_in"].iloc[after] > 1e8).all()
    assert (host["host.major_faults"].iloc[after] > 1e4).all()
    free = host["host.mem_available"] / host["host.mem_total"]
    assert free.iloc[after].max() < 0.03
    swap = host["host.swap_used"].to_numpy()
    assert swap[-1] > swap[120] > swap[0]
    net = (host["host.swap_out"] - host["host.swap_in"]).to_numpy()[1:]
    np.testing.assert_allclose(net.sum(), swap[-1] - swap[0], rtol=1e-3)


def test_cpu_starvation_pegs_the_cpus_not_the_disk(run: Run, wide: Wide) -> None:
    t = run("data-starved-cpu")
    host, disk, gpu = wide(t, "host"), wide(t, "nvme0n1"), wide(t, "gpu0")
    assert host["host.cpu.user"].mean() > 0.8 and host["host.cpu.cores_saturated"].mean() > 150
    assert host["host.psi.cpu_some"].mean() > 0.5 and host["host.load1"].mean() > 200
    assert disk["disk.busy"].max() < 0.3 and host["host.cpu.iowait"].max() < 0.02
    assert gpu["gpu.util"].mean() < 0.6 and bits(gpu, IDLE).any()


def test_invisible_starvation_leaves_host_metrics_unremarkable(run: Run, wide: Wide) -> None:
    t = run("data-starved")
    host, disk, nic = wide(t, "host"), wide(t, "nvme0n1"), wide(t, "eth0")
    assert wide(t, "gpu0")["gpu.util"].mean() < 0.6
    assert host["host.cpu.user"].max() < 0.2 and host["host.cpu.iowait"].max() < 0.01
    assert host["host.psi.io_some"].max() < 0.1 and host["host.psi.cpu_some"].max() < 0.05
    assert disk["disk.busy"].max() < 0.1 and (nic["nic.rx"] / nic["nic.speed"]).max() < 0.1


def test_nfs_starvation_shows_on_the_nic_not_the_disks(run: Run, wide: Wide) -> None:
    t = run("data-starved-nfs")
    nic, host = wide(t, "eth0"), wide(t, "host")
    assert nic["nic.rx"].mean() > 1.5e9 and wide(t, "nvme0n1")["disk.read"].max() < 1e6
    assert host["host.cpu.iowait"].mean() > 0.1 and host["host.psi.io_some"].mean() > 0.9
    assert wide(t, "gpu0")["gpu.util"].mean() < 0.6


def test_allreduce_bound_on_nvlink(run: Run, wide: Wide) -> None:
    t = run("allreduce-bound")
    for gpu in GPUS:
        w = wide(t, gpu)
        assert w["gpu.util"].mean() > 0.95 and w["gpu.sm_active"].mean() < 0.55
        assert w["gpu.nvlink_tx"].mean() > 0.55 * NVLINK_CAPACITY
        assert w["gpu.nvlink_tx"].max() <= 0.85 * NVLINK_CAPACITY
        assert w["gpu.nvlink_rx"].mean() == pytest.approx(w["gpu.nvlink_tx"].mean(), rel=0.02)
    healthy = wide(run("healthy"), "gpu0")
    assert healthy["gpu.nvlink_tx"].mean() < 0.05 * NVLINK_CAPACITY


@pytest.mark.parametrize("seed", SEEDS)
def test_allreduce_bound_across_hosts(run: Run, wide: Wide, seed: int) -> None:
    t = run("allreduce-bound", hosts=2, seed=seed)
    for host in ("node1", "node2"):
        ib = wide(t, "mlx5_0:1", host)
        assert ib["ib.tx"].mean() > 0.75 * IB_PORT_BPS and ib["ib.rx"].mean() > 0.75 * IB_PORT_BPS
        assert ib["ib.xmit_wait"].mean() > 0
        gpu = wide(t, "gpu0", host)
        assert gpu["gpu.util"].mean() > 0.95 and gpu["gpu.sm_active"].mean() < 0.5
        assert gpu["gpu.nvlink_tx"].mean() < 0.2 * NVLINK_CAPACITY
        assert gpu["gpu.pcie_tx"].mean() > 1e9  # GPUDirect RDMA to the NIC crosses PCIe
    healthy = wide(run("healthy", hosts=2, seed=seed), "mlx5_0:1")
    assert healthy["ib.tx"].mean() < 0.2 * IB_PORT_BPS and healthy["ib.xmit_wait"].max() == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_straggler_makes_every_gpu_wait(run: Run, wide: Wide, seed: int) -> None:
    t, h = run("straggler", seed=seed), run("healthy", seed=seed)
    busy, base = gpu_mean(t.samples, "gpu.sm_active"), gpu_mean(h.samples, "gpu.sm_active")
    assert (1 - busy > 1 - base + 0.1).all()  # every GPU's idle (non-SM) share rises
    util = gpu_mean(t.samples, "gpu.util")
    assert util.idxmin() == "gpu6" and util["gpu6"] < 0.85
    assert (util.drop("gpu6") > 0.95).all()  # the others wait inside NCCL kernels
    host = wide(t, "host")
    assert host["host.psi.cpu_some"].mean() > 0.5 and host["host.cpu.core_busy_max"].min() > 0.95
    assert host["host.cpu.user"].mean() < 0.2


def test_pcie_bound_saturates_the_link_during_copies(run: Run, wide: Wide) -> None:
    for gpu in GPUS:
        w = wide(run("pcie-bound"), gpu)
        capacity = 63e9  # Gen5 x16 per direction
        assert w["gpu.pcie_rx"].mean() > 0.4 * capacity and w["gpu.pcie_rx"].max() < capacity
        assert w["gpu.util"].mean() < 0.5 and (w["gpu.pcie_gen"] == 5).all()


def test_degraded_link_is_below_max_while_busy(run: Run, wide: Wide) -> None:
    t = run("pcie-link-degraded")
    for gpu in GPUS:
        w = wide(t, gpu)
        busy = ~bits(w, IDLE)
        below = (w["gpu.pcie_gen"] < w["gpu.pcie_gen_max"]) | (
            w["gpu.pcie_width"] < w["gpu.pcie_width_max"])
        assert below[busy].all() if gpu == "gpu5" else not below[busy].any()
    # at idle every link drops its speed, which is normal
    idle = wide(run("gpu-idle"), "gpu0")
    assert (idle.loc[bits(idle, IDLE), "gpu.pcie_gen"] == 1).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_hardware_slowdown_without_heat(run: Run, wide: Wide, seed: int) -> None:
    for gpu in GPUS:
        w = wide(run("hardware-slowdown", seed=seed), gpu)
        braked = bits(w, BRAKE)
        assert 0.15 < braked.mean() < 0.6
        assert not bits(w, THERMAL | POWER_CAP).any() and w["gpu.temp"].max() < 75
        busy = braked & ~bits(w, IDLE)
        assert (w.loc[busy, "gpu.clock_sm"] <= 0.5 * SM_CLOCK_MAX_HZ).all()
        assert w["gpu.throttle.power_brake"].mean() == pytest.approx(braked.mean(), abs=0.05)


def test_kernel_mix_scenarios(run: Run, wide: Wide) -> None:
    fp32 = wide(run("tensor-cores-unused"), "gpu0")
    assert fp32["gpu.tensor_active"].max() < 0.02 and fp32["gpu.fp32_active"].mean() > 0.6
    assert fp32["gpu.sm_active"].mean() > 0.85
    membw = wide(run("memory-bandwidth-bound"), "gpu0")
    assert membw["gpu.dram_active"].mean() > 0.85 and membw["gpu.tensor_active"].mean() < 0.1
    assert membw["gpu.fp16_active"].mean() < 0.2 and membw["gpu.fp32_active"].mean() < 0.2
    assert membw["gpu.power"].mean() < 520


def test_gpu_memory_pressure_fills_the_framebuffer(run: Run, wide: Wide) -> None:
    w = wide(run("gpu-memory-pressure"), "gpu0")
    assert (w["gpu.fb_used"] >= 0.97 * w["gpu.fb_total"]).all()
    assert w["gpu.util"].mean() < wide(run("healthy"), "gpu0")["gpu.util"].mean() - 0.05


def test_idle_job_holds_memory(run: Run, wide: Wide) -> None:
    for gpu in GPUS:
        w = wide(run("gpu-idle"), gpu)
        assert (w["gpu.util"] < 0.01).mean() > 0.9 and bits(w, IDLE).mean() > 0.9
        assert (w["gpu.fb_used"] > 0.5 * w["gpu.fb_total"]).all()
        assert (w["gpu.process_count"] == 1).all()
        assert w["gpu.power"].iloc[-100:].max() < 100


def test_hardware_errors_progress_and_the_gpu_is_lost(run: Run, wide: Wide) -> None:
    t = run("gpu-hardware-errors", duration_s=600)
    ev = t.events
    xids = list(ev.loc[ev["kind"] == "xid", "code"])
    assert xids == [94, 63, 48, 63, 79]
    assert (ev["kind"] == "gpu_lost").sum() == 1 and (ev["kind"] == "ecc").sum() == 2
    assert set(ev["entity"]) == {"gpu1"}
    bad = wide(t, "gpu1")
    lost = ev.loc[ev["kind"] == "gpu_lost", "ts"].iloc[0]
    assert bad.index.max() < lost and len(bad) < 600
    unc = bad["gpu.ecc_uncorrected"].to_numpy()
    assert unc[0] == 0 and unc[-1] == 2 and (np.diff(unc) >= 0).all()
    assert bad["gpu.row_remap_pending"].iloc[-1] == 1 and bad["gpu.ecc_corrected"].iloc[-1] > 0
    other = wide(t, "gpu0")
    after = other.index > lost
    assert (other.loc[after, "gpu.process_count"] == 0).all()  # the job died with the GPU
    assert (other.loc[after, "gpu.util"] < 0.01).all()
    mild = run("gpu-hardware-errors", intensity=0.3).events
    assert list(mild["code"].dropna()) == [94, 63] and "gpu_lost" not in set(mild["kind"])


def test_lookalikes_keep_the_gpus_fed(run: Run, wide: Wide) -> None:
    disk = run("lookalike-busy-disk")
    assert wide(disk, "nvme0n1")["disk.busy"].mean() > 0.95
    cpu = run("lookalike-cpu-saturated")
    assert wide(cpu, "host")["host.cpu.user"].mean() > 0.9
    for t in (disk, cpu):
        assert (gpu_mean(t.samples, "gpu.util") > 0.95).all()
        assert (gpu_mean(t.samples, "gpu.sm_active") > 0.85).all()


def test_checkpoints_cost_about_two_percent(run: Run, wide: Wide) -> None:
    t = run("lookalike-checkpoint", duration_s=1200)
    gpu, disk = wide(t, "gpu0"), wide(t, "nvme0n1")
    lost = 1 - gpu["gpu.util"].mean() / wide(run("healthy", duration_s=1200), "gpu0")[
        "gpu.util"].mean()
    assert 0.01 < lost < 0.04
    writing = disk["disk.write"] > 0.8 * DISK_WRITE_BPS  # whole seconds of checkpoint writes
    assert 3 <= writing.sum() <= 40 and (disk.loc[writing, "disk.busy"] > 0.9).all()
    assert (gpu.loc[writing, "gpu.util"] < 0.9).all()


def test_intensity_zero_looks_healthy(run: Run, wide: Wide) -> None:
    base = gpu_mean(run("healthy").samples, "gpu.sm_active")
    for name in SCENARIOS:
        t = run(name, intensity=0.0)
        assert gpu_mean(t.samples, "gpu.sm_active").sub(base).abs().max() < 0.05, name
        assert t.events.empty, name
        host = wide(t, "host")
        assert host["host.psi.memory_some"].max() < 0.05, name
        assert host["host.cpu.user"].max() < 0.3, name
        assert wide(t, "nvme0n1")["disk.busy"].mean() < 0.3, name
        for gpu in GPUS:
            assert not bits(wide(t, gpu), ~IDLE).any(), (name, gpu)


@pytest.mark.parametrize("name", ["data-starved-storage", "thermal-throttling", "power-capping",
                                  "straggler", "allreduce-bound", "host-swap-storm"])
def test_intensity_scales_the_cost(run: Run, name: str) -> None:
    """More intensity never makes the job faster: work per second (SM activity at the SM clock,
    averaged over the GPUs) falls or stays."""
    work = []
    for i in (0.0, 0.5, 0.75, 1.0):
        s = run(name, intensity=i).samples
        clock = gpu_mean(s, "gpu.clock_sm") / SM_CLOCK_MAX_HZ
        work.append(float((gpu_mean(s, "gpu.sm_active") * clock).mean()))
    assert all(b <= a + 0.01 for a, b in itertools.pairwise(work))
    assert work[-1] < work[0] - 0.03


def test_multi_host_has_separate_host_metrics(run: Run, wide: Wide) -> None:
    t = run("host-swap-storm", hosts=2, duration_s=600)
    one, two = wide(t, "host", "node1"), wide(t, "host", "node2")
    assert one["host.swap_in"].max() > 1e8 and two["host.swap_in"].max() == 0
    assert two["host.psi.memory_some"].max() < 0.05
    # node2 is healthy but waits for node1 at every all-reduce
    assert wide(t, "gpu0", "node2")["gpu.sm_active"].iloc[200:].mean() < 0.8
    assert set(t.samples.loc[t.samples["host"] == "node2", "entity"].astype(str)) >= {
        "host", "nvme0n1", "nvme1n1", "eth0", "mlx5_0:1", "gpu7"}


def test_bytes_are_conserved_between_the_model_and_the_counters() -> None:
    """NVLink and PCIe counters integrate to the bytes the step model moved in the window."""
    grid = Grid(1.0, 300)
    for name in ("healthy", "allreduce-bound", "pcie-bound"):
        noise = Noise(0)
        setup = _seeded(SCENARIOS[name].build(Setup.healthy(1, 8), 1.0), noise)
        tl = _run(setup, grid, noise).timeline
        inside = (tl.xfer_on >= 0) & (tl.xfer_off <= grid.duration_s)
        copies = (tl.start >= 0) & (tl.start + tl.duration <= grid.duration_s)
        s = simulate(name, duration_s=300).samples
        gpu0 = s[(s["entity"] == "gpu0")].pivot(index="ts", columns="metric", values="value")
        nvlink = gpu0["gpu.nvlink_tx"].sum() * grid.interval_s
        ring = transfer(setup).nvlink_bytes
        assert ring * inside.sum() <= nvlink * 1.02 <= ring * (inside.sum() + 2) * 1.04
        h2d = (gpu0["gpu.pcie_rx"].sum() - BG_RX_BPS * grid.duration_s) * grid.interval_s
        batch = setup.workload.h2d_bytes
        assert batch * copies.sum() * 0.97 <= h2d <= batch * (copies.sum() + 2) * 1.03
