"""What sampling costs: CPU time of the real Recorder, as % of one core, at 10 Hz and at 1 Hz.

    python -m bench.sampler_overhead                 # 60 s at each rate, 8x H100 fake
    python -m bench.sampler_overhead --duration 20 --profile a100x4

Runs profiler.recorder.Recorder in memory (no output) with every host collector in the
registry (whichever collectors/ modules exist) plus NvmlCollector over the fake NVML of
tests/fake_pynvml.py. Goal: < 2 % of one core at 10 Hz, < 0.3 % at 1 Hz.

The fake answers in Python; a real driver answers through ctypes and ioctls, so this measures
the collector's own Python work, not NVML's time in the kernel (which, for
nvmlDeviceGetPcieThroughput, includes a 20 ms measuring window).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import time
from collections.abc import Callable

import collectors
from collectors import COLLECTORS, Collector, SampleBuffer
from collectors.nvml import NvmlCollector
from profiler.recorder import Recorder
from tests.fake_pynvml import PROFILES, install

GOALS = {10.0: 2.0, 1.0: 0.3}  # Hz -> % of one core


def host_collectors() -> list[Callable[[], Collector]]:
    """Every registered collector but NVML, after importing whatever collectors/ has."""
    for module in pkgutil.iter_modules(collectors.__path__):
        if module.name not in ("base",) and not module.name.startswith(("nvml", "_")):
            try:
                importlib.import_module(f"collectors.{module.name}")
            except ImportError as e:
                print(f"skipping collectors.{module.name}: {e}")
    return [cls for name, cls in COLLECTORS.items() if name != "nvml"]


def record(rate_hz: float, duration_s: float, factories: list[Callable[[], Collector]]
           ) -> tuple[float, float, int]:
    """(% of one core, µs of CPU per tick, ticks) for one Recorder run."""
    recorder = Recorder([f() for f in factories], interval_s=1.0 / rate_hz, output=None)
    trace = recorder.run(duration_s=duration_s)
    overhead = trace.meta.overhead
    if overhead is None or overhead.ticks == 0:
        raise SystemExit("the recorder reported no ticks")
    return overhead.cpu_percent, 1e6 * overhead.cpu_seconds / overhead.ticks, overhead.ticks


def per_collector(factories: list[Callable[[], Collector]], ticks: int = 2000
                  ) -> list[tuple[str, float]]:
    """µs of CPU per sample() of each collector alone, ticking as fast as it can."""
    out = []
    for factory in factories:
        collector = factory()
        collector.open("bench")
        buf = SampleBuffer("bench")
        step = 100_000_000  # 10 Hz timestamps
        t0, cpu0 = time.time_ns(), time.process_time()
        for k in range(ticks):
            buf.begin_tick(t0 + k * step)
            collector.sample(buf)
            if k % 50 == 49:
                buf.take()
        out.append((collector.name, 1e6 * (time.process_time() - cpu0) / ticks))
        collector.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at each rate")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="h100x8")
    parser.add_argument("--rates", default="10,1", help="sample rates in Hz, comma-separated")
    args = parser.parse_args()
    fake, undo = install(args.profile)
    try:
        hosts = host_collectors()
        factories: list[Callable[[], Collector]] = [*hosts, NvmlCollector]
        names = [f().name for f in hosts]
        print(f"collectors: {', '.join([*names, 'nvml'])} ({args.profile} fake, "
              f"{len(fake.gpus)} GPUs)")
        for name, us in per_collector(factories):
            print(f"  {name:>8}: {us:7.1f} µs CPU per sample()")
        failed = False
        for rate in (float(r) for r in args.rates.split(",")):
            percent, per_tick, ticks = record(rate, args.duration, factories)
            goal = GOALS.get(rate)
            verdict = "" if goal is None else (" ok" if percent < goal else f" OVER {goal} %")
            failed |= goal is not None and percent >= goal
            print(f"{rate:g} Hz for {args.duration:g} s: {percent:.3f} % of one core, "
                  f"{per_tick:.0f} µs CPU per tick ({ticks} ticks){verdict}")
    finally:
        undo()
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
