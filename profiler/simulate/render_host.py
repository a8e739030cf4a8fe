"""Host metrics (CPU, scheduler, memory, PSI, disks, NIC, InfiniBand) from the job's pace.

The input pipeline works at the pace the GPUs consume batches: every rank takes one batch per step,
so each batch's read bytes and CPU time, times the batches per second, give disk and NIC bytes/s
and loader cores. Loader workers that are not computing sleep when the prefetch buffer is full,
or sit in uninterruptible I/O when storage is the bottleneck: those are the blocked tasks behind
iowait, procs_blocked and PSI io. Another tenant's threads and a swap storm add their own load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiler.simulate.capacity import (
    cpu_fair_share,
    loader_cpu_per_batch,
    loader_threads,
    storage_bytes_per_batch,
    transfer,
)
from profiler.simulate.hardware import (
    CPU_COUNT,
    DISK_LATENCY_S,
    DISK_REQUEST_BYTES,
    IB_PORT_BPS,
    IB_XMIT_WAIT_TICKS_PER_S,
    MEM_TOTAL_BYTES,
    NFS_BPS,
    NIC_SPEED_BPS,
    OS_DISK_SWAP_BPS,
    SWAP_TOTAL_BYTES,
    first_order,
)
from profiler.simulate.integrate import F64, Grid
from profiler.simulate.model import CKPT_WRITE, NO_JOB, WAIT
from profiler.simulate.params import Setup
from profiler.simulate.render import Noise, noisy_rate, noisy_ratio

LOAD_TAU_S = 60.0  # Linux load1: exponential average over one minute
OTHER_IO_THREADS = 16  # model choice: threads of another process reading the data disk
SWAP_ONSET_SHARE = 0.2  # a swap storm starts once memory runs out, this far into the window
SWAP_RAMP_S = 30.0  # model choice: from the first swap-out to full thrashing
SWAP_FILL_TAU_S = 120.0  # model choice: time constant of the swap file filling up
SWAP_IN_BPS = 300e6  # model choice: swap-in rate of a thrashing host at full severity
MEM_AVAILABLE_SHARE = 0.74  # model choice: MemAvailable of a healthy training host
MEM_EXHAUSTED_SHARE = 0.012  # model choice: MemAvailable once the kernel is reclaiming hard


def swap_severity(setup: Setup, grid: Grid) -> F64:
    """Per host and interval, how hard the host is swapping (0..1)."""
    mid = grid.edges[:-1] + grid.interval_s / 2
    ramp = np.clip((mid - SWAP_ONSET_SHARE * grid.duration_s) / SWAP_RAMP_S, 0.0, 1.0)
    return np.array([h.swap_storm * ramp for h in setup.host])


@dataclass(frozen=True, slots=True)
class HostInputs:
    """What one host's metrics are derived from."""

    setup: Setup
    grid: Grid
    host: int
    shares: F64  # (ranks of this host, phases, n)
    step_rate: F64  # (n,) steps per second (each rank takes one batch per step)
    xfer_share: F64  # (n,) share of time gradient bytes are on the wire
    severity: F64  # (n,) swap-storm severity


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Per interval: the input pipeline's CPU and I/O demand on one host."""

    loader_cores: F64
    local_read: F64
    nfs_read: F64
    remote_read: F64
    ckpt_write: F64


def pipeline(x: HostInputs) -> Pipeline:
    s, g, ld = x.setup, x.setup.gpus, x.setup.loader
    batches = x.step_rate * g
    miss = storage_bytes_per_batch(s)
    zero = np.zeros(x.grid.n)
    read = batches * miss
    return Pipeline(batches * loader_cpu_per_batch(s)[x.host],
                    read if ld.source == "local" else zero,
                    read if ld.source == "nfs" else zero,
                    batches * ld.read_bytes if ld.source == "remote" else zero,
                    x.shares[:, CKPT_WRITE].mean(axis=0) * s.host[x.host].disk_write_bps)


def host_metrics(x: HostInputs, noise: Noise) -> dict[str, dict[str, F64]]:
    """Entity -> metric -> values for the host, its data and OS disks, and its NIC."""
    p = pipeline(x)
    host = {**_cpu(x, p, noise), **_memory(x, noise)}
    data_read = p.local_read + x.setup.host[x.host].other_disk_read_bps
    data = _disk(data_read, p.ckpt_write, x.setup.host[x.host].disk_read_bps,
                 x.setup.host[x.host].disk_write_bps, noise, x.host, "data")
    swap_in, swap_out = _swap_rates(x)
    os_disk = _disk(swap_in, swap_out + 1.5e6, OS_DISK_SWAP_BPS, OS_DISK_SWAP_BPS, noise,
                    x.host, "os")
    n = x.grid.n
    rx = 1.5e6 + p.nfs_read + p.remote_read
    nic = {"nic.rx": noisy_rate(rx, 0.03, noise.normal(n, x.host, "nic.rx")),
           "nic.tx": noisy_rate(0.8e6 + 0.01 * rx, 0.03, noise.normal(n, x.host, "nic.tx")),
           "nic.speed": np.full(n, NIC_SPEED_BPS)}
    return {"host": host, "data": data, "os": os_disk, "nic": nic}


@dataclass(frozen=True, slots=True)
class CpuLoad:
    """Per interval: CPU time in cores, and tasks running or blocked."""

    user: F64
    system: F64
    iowait: F64
    demand: F64  # cores wanted (more than the host has when oversubscribed)
    main_each: F64  # (ranks, n) busy share of each rank's main thread
    worker_busy: F64  # busy share of one loader worker's core
    runnable: F64
    blocked: F64
    pinned: float  # 1.0 when threads share a rank's pinned core


def cpu_load(x: HostInputs, p: Pipeline) -> CpuLoad:
    s, g, c = x.setup, x.setup.gpus, float(CPU_COUNT)
    hs = s.host[x.host]
    workers = float(loader_threads(s))
    main_each = 1.0 - x.shares[:, WAIT] - x.shares[:, NO_JOB]  # main threads spin unless idle
    main = main_each.sum(axis=0)
    pinned = float(any(gp.pinned_contention for gp in s.gpu[x.host * g:(x.host + 1) * g]))
    nccl = 0.5 * g * x.xfer_share if s.hosts > 1 else np.zeros(x.grid.n)
    ckpt = x.shares[:, CKPT_WRITE].mean(axis=0)
    user = 0.85 * main + 0.9 * p.loader_cores + nccl + hs.other_threads + pinned + 0.6
    system = (0.15 * main + 0.1 * p.loader_cores + 0.12e-9 * (p.local_read + p.ckpt_write)
              + 0.8e-9 * (p.nfs_read + p.remote_read) + 12.0 * x.severity + 2.0 * ckpt + 0.4)
    demand = user + system
    fit = np.minimum(1.0, c / demand)
    running_workers = np.minimum(workers, p.loader_cores / float(cpu_fair_share(s)[x.host]))
    rho = _data_disk_load(x, p)
    # idle loader workers block on I/O only when they read from the saturated store
    pressure = np.where(p.nfs_read > 0, np.minimum(1.0, p.nfs_read / NFS_BPS),
                        np.where(p.local_read > 0, rho, 0.0))
    blocked = (0.02 + (workers - running_workers) * pressure**3
               + OTHER_IO_THREADS * rho**3 * (hs.other_disk_read_bps > 0)
               + 24.0 * x.severity + 0.5 * g * ckpt)
    busy = (user + system) * fit
    return CpuLoad(user * fit, system * fit, np.minimum(c - busy, blocked), demand, main_each,
                   p.loader_cores / max(1.0, min(workers, c)),
                   main + running_workers + nccl + hs.other_threads + 1.0 + 2 * pinned,
                   blocked, pinned)


def _cpu(x: HostInputs, p: Pipeline, noise: Noise) -> dict[str, F64]:
    load, n, c = cpu_load(x, p), x.grid.n, float(CPU_COUNT)
    z = [noise.normal(n, x.host, "cpu", k) for k in range(3)]
    parts = np.clip(np.stack([load.user * (1 + 0.01 * z[0]), load.system * (1 + 0.02 * z[1]),
                              load.iowait * (1 + 0.02 * z[2])]) / c, 0.0, 1.0)
    idle = np.maximum(0.0, 1.0 - parts.sum(axis=0))
    total = parts.sum(axis=0) + idle
    return {
        "host.cpu.user": parts[0] / total, "host.cpu.system": parts[1] / total,
        "host.cpu.iowait": parts[2] / total, "host.cpu.steal": np.zeros(n),
        "host.cpu.idle": idle / total, "host.cpu.count": np.full(n, c),
        **_scheduler(x, load, noise),
    }


def _scheduler(x: HostInputs, load: CpuLoad, noise: Noise) -> dict[str, F64]:
    """The busiest core, saturated cores, load, task counts and PSI cpu and io."""
    n, c, hs = x.grid.n, float(CPU_COUNT), x.setup.host[x.host]
    workers = float(loader_threads(x.setup))
    over = 1.0 - np.exp(-np.maximum(0.0, load.runnable - 0.9 * c) / (0.05 * c))
    active = 1.0 - x.shares[:, NO_JOB].mean(axis=0)
    base = 0.005 + 0.02 * (load.user + load.system) / c
    cpu_some = 1.0 - (1.0 - base) * (1.0 - over) * (1.0 - 0.9 * load.pinned * active)
    full = load.demand >= c
    hot = hs.other_threads >= 1 or load.pinned > 0
    busiest = np.where(full | hot, 1.0, np.maximum(
        np.maximum(load.main_each.max(axis=0), load.worker_busy), 0.3))
    counted = ((load.main_each >= 0.9).sum(axis=0) + min(workers, c)
               * np.clip((load.worker_busy - 0.75) / 0.2, 0.0, 1.0)
               + min(hs.other_threads, c) + load.pinned)
    rng = noise.rng(x.host, "sched")
    io_some = 1.0 - np.exp(-load.blocked)
    io_full = io_some * load.blocked / (load.blocked + load.runnable)
    return {
        "host.cpu.core_busy_max": noisy_ratio(busiest, 0.01, noise.normal(n, x.host, "busiest")),
        "host.cpu.cores_saturated": np.where(full, c, np.minimum(c, counted)).round(),
        "host.load1": np.round(_lag(load.runnable + load.blocked, x.grid), 2),
        "host.procs_running": rng.poisson(np.minimum(load.runnable, 4 * c)).astype(np.float64),
        "host.procs_blocked": rng.poisson(load.blocked).astype(np.float64),
        "host.psi.cpu_some": noisy_ratio(cpu_some, 0.003, noise.normal(n, x.host, "psi_cpu")),
        "host.psi.io_some": noisy_ratio(io_some, 0.005, noise.normal(n, x.host, "psi_io")),
        "host.psi.io_full": noisy_ratio(io_full, 0.005, noise.normal(n, x.host, "psi_io_full")),
    }


def _data_disk_load(x: HostInputs, p: Pipeline) -> F64:
    hs = x.setup.host[x.host]
    read = p.local_read + hs.other_disk_read_bps
    return np.minimum(0.999, read / hs.disk_read_bps + p.ckpt_write / hs.disk_write_bps)


def _disk(read: F64, write: F64, read_bps: float, write_bps: float, noise: Noise, host: int,
          name: str) -> dict[str, F64]:
    n = len(read)
    rho = np.minimum(0.999, read / read_bps + write / write_bps)
    inflight = np.minimum(128.0, (read + write) / DISK_REQUEST_BYTES * DISK_LATENCY_S
                          / (1.0 - np.minimum(rho, 0.985)))
    return {
        "disk.read": noisy_rate(read, 0.02, noise.normal(n, host, name, "r")),
        "disk.write": noisy_rate(write, 0.02, noise.normal(n, host, name, "w")),
        "disk.busy": noisy_ratio(1.0 - np.exp(-4.6 * rho), 0.005, noise.normal(n, host, name)),
        "disk.queue_depth": inflight.round(2),
    }


def _swap_used(x: HostInputs) -> F64:
    """Swap in use at every interval edge: a swap file filling once memory ran out."""
    storm = x.setup.host[x.host].swap_storm
    since = np.maximum(0.0, x.grid.edges - SWAP_ONSET_SHARE * x.grid.duration_s)
    fill = 0.9 * SWAP_TOTAL_BYTES * storm * (1.0 - np.exp(-since / SWAP_FILL_TAU_S))
    return 0.3 * 1024**3 + fill


def _swap_rates(x: HostInputs) -> tuple[F64, F64]:
    swap_in = SWAP_IN_BPS * x.severity
    net = np.diff(_swap_used(x)) / x.grid.interval_s
    return swap_in, swap_in + net


def _memory(x: HostInputs, noise: Noise) -> dict[str, F64]:
    n, storm = x.grid.n, x.setup.host[x.host].swap_storm
    t = x.grid.instants
    onset = SWAP_ONSET_SHARE * x.grid.duration_s
    squeeze = np.clip(t / onset, 0.0, 1.0) if storm > 0 else np.zeros(n)
    avail = MEM_AVAILABLE_SHARE + (MEM_EXHAUSTED_SHARE - MEM_AVAILABLE_SHARE) * squeeze
    avail = avail * (1.0 + 0.002 * noise.normal(n, x.host, "mem"))
    swap_in, swap_out = _swap_rates(x)
    sev = x.severity
    return {
        "host.mem_total": np.full(n, MEM_TOTAL_BYTES),
        "host.mem_available": np.round(avail * MEM_TOTAL_BYTES / 4096) * 4096,
        "host.swap_total": np.full(n, float(SWAP_TOTAL_BYTES)),
        "host.swap_used": np.round(_swap_used(x)[1:] / 4096) * 4096,
        "host.swap_in": swap_in,
        "host.swap_out": swap_out,
        "host.major_faults": np.round(swap_in / 4096 + 4000.0 * sev + 2.0),
        "host.psi.memory_some": noisy_ratio(0.92 * sev**0.7, 0.01, noise.normal(n, x.host, "m")),
        "host.psi.memory_full": noisy_ratio(0.55 * sev, 0.01, noise.normal(n, x.host, "mf")),
    }


def _lag(values: F64, grid: Grid) -> F64:
    alpha = float(np.exp(-grid.interval_s / LOAD_TAU_S))
    warm = max(1, min(grid.n, int(LOAD_TAU_S / grid.interval_s)))
    start = np.array([values[:warm].mean()])
    return first_order(values[None, :], start, alpha)[0, 1:]


def ib_metrics(setup: Setup, host: int, xfer_rate: F64, congestion: F64,
               noise: Noise) -> dict[str, dict[str, F64]]:
    """Per InfiniBand port of a multi-host job: the host's share of the ring traffic.

    `congestion` is, per interval, the time-weighted share of transfer windows during which
    packets queue at a port (from the ports' utilization inside each window).
    """
    ports = setup.host[host].ib_ports
    per_port = transfer(setup).ib_bytes / ports * xfer_rate
    n = len(xfer_rate)
    out = {}
    for p in range(ports):
        key = (host, "ib", p)
        out[f"mlx5_{p}:1"] = {  # counter noise never lifts a port above its line rate
            "ib.tx": np.minimum(IB_PORT_BPS, noisy_rate(per_port + 2e4, 0.01,
                                                         noise.normal(n, *key, "tx"))),
            "ib.rx": np.minimum(IB_PORT_BPS, noisy_rate(per_port + 2e4, 0.01,
                                                         noise.normal(n, *key, "rx"))),
            "ib.rate": np.full(n, IB_PORT_BPS),
            "ib.xmit_wait": np.round(IB_XMIT_WAIT_TICKS_PER_S * congestion
                                     * (1.0 + 0.05 * noise.normal(n, *key, "wait"))).clip(0),
        }
    return out


def port_congestion(window_s: F64, ib_bytes: float, ports: int) -> F64:
    """Per transfer window, the share of it that packets wait at a port: none below 70 %
    utilization, rising steeply towards line rate (model choice)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(window_s > 0, ib_bytes / ports / window_s / IB_PORT_BPS, 0.0)
    return 0.5 * np.clip((util - 0.7) / 0.3, 0.0, 1.0) ** 2
