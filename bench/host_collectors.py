"""What the host collectors cost per tick: CPU time (user + system) of sampling, no NVML.

    python bench/host_collectors.py [--ticks 2000] [--paced 10] [--no-big-node]

1. this machine, ticks back to back: process_time over --ticks ticks, per tick, then scaled to the
   share of one core at 10 Hz and 1 Hz. Tick timestamps advance 0.1 s (or 1 s) per tick so that
   device rescans run as often as they would at that rate.
2. per collector, the same loop with a timer around each collector.
3. a synthetic big GPU node in a temporary tree (192 CPUs, 16 disks + 32 partitions, 8 NICs and
   24 virtual ones, 8 InfiniBand ports), its counters rewritten between ticks (untimed), so every
   path runs (deltas are never zero). Regular files: this measures our Python, not the kernel.
4. with --paced S: this machine sampled at a real 10 Hz for S seconds: process_time around the
   sampling (caches are cold after each 100 ms sleep, so this is the figure to expect in use), and
   of the whole process over wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.base import Collector, SampleBuffer
from collectors.host import host_collectors

NS = 1_000_000_000


def opened(root: Path) -> list[Collector]:
    collectors = host_collectors(root)
    for c in collectors:
        c.open("bench")
    return collectors


def back_to_back(collectors: list[Collector], ticks: int, step_s: float) -> float:
    """CPU seconds per tick, sampling every collector `ticks` times in a row."""
    buf = SampleBuffer("bench")
    t0 = time.time_ns()
    start = time.process_time()
    for i in range(ticks):
        buf.begin_tick(t0 + round(i * step_s * NS))
        for c in collectors:
            c.sample(buf)
    return (time.process_time() - start) / ticks


def per_collector(collectors: list[Collector], ticks: int, step_s: float,
                  between: Callable[[int], None] | None = None) -> dict[str, float]:
    """CPU seconds per tick of each collector (the timers add a little to each)."""
    buf = SampleBuffer("bench")
    spent = dict.fromkeys((c.name for c in collectors), 0.0)
    t0 = time.time_ns()
    clock = time.process_time
    for i in range(ticks):
        if between is not None:
            between(i)
        buf.begin_tick(t0 + round(i * step_s * NS))
        for c in collectors:
            start = clock()
            c.sample(buf)
            spent[c.name] += clock() - start
    return {name: s / ticks for name, s in spent.items()}


def report(label: str, per_tick_s: float) -> None:
    us = per_tick_s * 1e6
    print(f"{label}: {us:7.1f} µs/tick = {us * 10 / 1e4:6.3f} % of one core at 10 Hz, "
          f"{us / 1e4:6.4f} % at 1 Hz")


def write_big_node(root: Path, step: int) -> None:
    """A 192-CPU, 8-HCA node whose counters all advance with `step`."""
    s = step
    cpus = "".join(f"cpu{i} {100 * s + i} 0 {20 * s} {80 * s} {s} 0 {s} 0 0 0\n"
                   for i in range(192))
    (root / "proc/stat").write_text(
        f"cpu  1 2 3 4 5 6 7 8 0 0\n{cpus}intr 1 {' 0' * 600}\nctxt 5\nbtime 1\n"
        f"processes 9\nprocs_running 12\nprocs_blocked 1\nsoftirq 1 2 3\n")
    disks = [f"259 {i} nvme{i}n1" for i in range(16)]
    parts = [f"259 {100 + i} nvme{i // 2}n1p{i % 2 + 1}" for i in range(32)]
    (root / "proc/diskstats").write_text("".join(
        f"{d} 100 0 {800 * s} 10 100 0 {1600 * s} 10 0 {40 * s} {90 * s} 0 0 0 0 1 1\n"
        for d in disks + parts))
    names = [f"ens{i}np0" for i in range(8)] + [f"veth{i:04x}" for i in range(24)] + ["lo"]
    header = "Inter-|   Receive  |  Transmit\n face |bytes packets|bytes packets\n"
    (root / "proc/net/dev").write_text(header + "".join(
        f"{n:>10}: {1000 * s} 9 0 0 0 0 0 0 {2000 * s} 9 0 0 0 0 0 0\n" for n in names))
    for hca in range(8):
        counters = root / f"sys/class/infiniband/mlx5_{hca}/ports/1/counters"
        for name in ("port_rcv_data", "port_xmit_data", "port_xmit_wait"):
            (counters / name).write_text(f"{5000 * s}\n")
    for resource in ("cpu", "io", "memory"):
        (root / f"proc/pressure/{resource}").write_text(
            f"some avg10=0 avg60=0 avg300=0 total={1000 * s}\n"
            f"full avg10=0 avg60=0 avg300=0 total={500 * s}\n")
    (root / "proc/vmstat").write_text(f"pswpin {s}\npswpout {s}\npgmajfault {7 * s}\n")


def make_big_node(root: Path) -> None:
    for d in ("proc/pressure", "proc/net", "sys/devices/system/node/node0"):
        (root / d).mkdir(parents=True)
    (root / "proc/loadavg").write_text("12.5 10.1 9.0 13/2000 4242\n")
    (root / "proc/meminfo").write_text(
        "MemTotal: 2113929216 kB\nMemAvailable: 1000000000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")
    for i in range(16):
        (root / f"sys/class/block/nvme{i}n1").mkdir(parents=True)
    for i in range(32):
        part = root / f"sys/class/block/nvme{i // 2}n1p{i % 2 + 1}"
        part.mkdir(parents=True)
        (part / "partition").write_text(f"{i % 2 + 1}\n")
    for i in range(8):
        nic = root / f"sys/class/net/ens{i}np0"
        (nic / "device").mkdir(parents=True)
        (nic / "speed").write_text("400000\n")
        port = root / f"sys/class/infiniband/mlx5_{i}/ports/1"
        (port / "counters").mkdir(parents=True)
        (port / "rate").write_text("400 Gb/sec (4X NDR)\n")
    for i in range(24):
        (root / f"sys/class/net/veth{i:04x}").mkdir(parents=True)
    write_big_node(root, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--paced", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--no-big-node", action="store_true")
    args = parser.parse_args()

    collectors = opened(Path("/"))
    back_to_back(collectors, 50, 0.1)  # warm up: first readings, open files, caches
    print(f"this machine, {args.ticks} ticks back to back, all host collectors:")
    report("  as at 10 Hz (rescan every 50 ticks)", back_to_back(collectors, args.ticks, 0.1))
    report("  as at  1 Hz (rescan every  5 ticks)", back_to_back(collectors, args.ticks, 1.0))
    print("  per collector, as at 10 Hz:")
    for name, s in per_collector(collectors, args.ticks, 0.1).items():
        print(f"    {name:<11} {s * 1e6:7.1f} µs/tick")
    for c in collectors:
        c.close()

    if not args.no_big_node:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_big_node(root)
            big = opened(root)
            ticks = min(args.ticks, 500)
            spent = per_collector(big, ticks, 0.1, lambda i: write_big_node(root, i + 1))
            print(f"synthetic big node (192 CPUs, 16 disks, 8 NICs, 8 IB ports), {ticks} ticks, "
                  "counters changing every tick:")
            report("  all host collectors", sum(spent.values()))
            for name, s in spent.items():
                print(f"    {name:<11} {s * 1e6:7.1f} µs/tick")
            for c in big:
                c.close()

    if args.paced > 0:
        paced(args.paced)


def paced(seconds: float) -> None:
    """Sample this machine at a real 10 Hz: caches go cold in between, as they will in use."""
    collectors = opened(Path("/"))
    buf = SampleBuffer("bench")
    n = int(seconds * 10)
    sampling = 0.0
    wall0, cpu0 = time.monotonic(), time.process_time()
    for i in range(n):
        time.sleep(max(0.0, wall0 + i * 0.1 - time.monotonic()))
        start = time.process_time()
        buf.begin_tick(time.time_ns())
        for c in collectors:
            c.sample(buf)
        sampling += time.process_time() - start
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    print(f"this machine at a real 10 Hz for {wall:.1f} s ({n} ticks):")
    report("  sampling only", sampling / n)
    print(f"  whole process, sleeps and wake-ups included: {cpu / n * 1e6:.1f} µs/tick, "
          f"{100 * cpu / wall:.3f} % of one core")
    for c in collectors:
        c.close()

if __name__ == "__main__":
    main()
