"""Diagnose a fleet from a REAL local Prometheus: 64 nodes x 8 GPUs x 1 hour at a 15 s step.

Backfills dcgm-exporter + node_exporter history with promtool, serves it on 127.0.0.1, then
pulls it the way `profiler diagnose --prometheus` does, raw and with server-side aggregation,
and prints wall time, bytes transferred, requests, series and points pulled, and the findings.

usage: python bench/prometheus_fleet.py [--nodes 64] [--gpus 8] [--hours 1] [--step 15]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=64)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--step", type=float, default=15.0)
    ap.add_argument("--points", type=int, nargs="+", default=[60, 12],
                    help="bins per series for the aggregated runs")
    a = ap.parse_args()

    from profiler import api
    from tests.importers import promharness
    from tests.importers.prom_files import Node, fleet, openmetrics_lines

    if promharness.binaries() is None:
        sys.exit("needs prometheus and promtool: apt-get install prometheus")
    nodes = [Node(f"gpu-node-{i:03d}", f"10.0.{i // 250}.{i % 250 + 1}", gpus=a.gpus,
                  hot_gpu=3 if i % 16 == 5 else None, swap_storm=i % 16 == 9,
                  host_label="hostname" if i % 2 else "Hostname", new_names=bool(i % 3))
             for i in range(a.nodes)]
    end = int(time.time()) - 4 * 3600
    end -= end % int(a.step)
    t = np.arange(end - a.hours * 3600 + a.step, end + 1, a.step)
    data = Path(tempfile.mkdtemp(prefix="prom-fleet-"))
    try:
        t0 = time.perf_counter()
        with open(data / "history.om", "w", buffering=1 << 20) as f:
            f.writelines(openmetrics_lines(fleet(nodes, t), t))
        size = (data / "history.om").stat().st_size
        print(f"generated {a.nodes} nodes x {a.gpus} GPUs x {a.hours:g} h at {a.step:g} s: "
              f"{size / 1e6:.0f} MB OpenMetrics ({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        promharness.backfill(data / "history.om", data)
        (data / "history.om").unlink()
        print(f"promtool backfill: {time.perf_counter() - t0:.1f} s")
        proc, base = promharness.start(data)
        try:
            start, stop = str(float(t[0])), str(float(t[-1]))
            runs: list[tuple[str, bool, int]] = [("raw", False, 0)] + [
                (f"aggregated, {p} bins", True, p) for p in a.points]
            for label, aggregate, points in runs:
                t0 = time.perf_counter()
                trace, _, stats = api.prometheus(base, start, stop, step=f"{a.step:g}s",
                                                 aggregate=aggregate, points=points or 60,
                                                 timeout_s=300)
                pulled = time.perf_counter() - t0
                report = api.diagnose(trace)
                total = time.perf_counter() - t0
                found = sorted({f.id for f in report.findings})
                hosts = sorted({e.split("/")[0] for f in report.findings for e in f.entities})
                print(f"{label}: pull {pulled:.2f} s + diagnose {total - pulled:.2f} s = "
                      f"{total:.2f} s wall; {stats.bytes / 1e6:.1f} MB in {stats.requests} "
                      f"requests; {stats.series:,} series, {stats.points:,} points pulled; "
                      f"{len(trace.samples):,} samples in the trace; findings {found} on "
                      f"{len(hosts)} hosts")
        finally:
            promharness.stop(proc)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
