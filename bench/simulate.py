"""Time `simulate()` on a long trace: seconds and sample rows per second.

    python -m bench.simulate                      # 24 h x 8 GPUs at 1 Hz, healthy
    python -m bench.simulate thermal-throttling 86400 8 2   # scenario, seconds, GPUs, hosts

Each case runs `--repeat` times (default 3) and reports the best and the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

from profiler.simulate import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="healthy")
    parser.add_argument("duration_s", nargs="?", type=float, default=86400.0)
    parser.add_argument("gpus", nargs="?", type=int, default=8)
    parser.add_argument("hosts", nargs="?", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times, rows = [], 0
    for seed in range(args.repeat):
        t0 = time.perf_counter()
        trace = simulate(args.scenario, duration_s=args.duration_s, gpus=args.gpus,
                         hosts=args.hosts, interval_s=args.interval, seed=seed)
        times.append(time.perf_counter() - t0)
        rows = len(trace.samples)
        del trace
    samples = int(args.duration_s / args.interval)
    best, median = min(times), statistics.median(times)
    print(f"{args.scenario}: {args.duration_s:g} s x {args.gpus} GPUs x {args.hosts} host(s) "
          f"at {args.interval:g} s = {samples:,} samples per series, {rows:,} rows")
    print(f"seconds: best {best:.2f}, median {median:.2f} over {args.repeat} runs")
    print(f"rows/s: {rows / best:,.0f} (best), {rows / median:,.0f} (median)")


if __name__ == "__main__":
    main()
