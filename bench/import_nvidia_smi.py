"""Import a 24-hour, 8-GPU, 1 Hz `nvidia-smi --query-gpu` CSV log (about 700k rows).

Writes the log the way nvidia-smi does (units in values, [N/A] gaps, hex bitmasks), then times
the import in a fresh process (`profiler.importers.nvidia_smi.load`) and reports its peak RSS,
plain and gzip. Goal (issue 5): < 5 s and bounded memory on a 2-core machine.

usage: python bench/import_nvidia_smi.py [--hours 24] [--gpus 8] [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("timestamp, index, name, utilization.gpu [%], utilization.memory [%], "
          "memory.used [MiB], memory.total [MiB], temperature.gpu, power.draw [W], "
          "clocks.current.sm [MHz], clocks.current.memory [MHz], clocks_event_reasons.active, "
          "pcie.link.gen.current")
CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from profiler.importers.nvidia_smi import load
trace = load(__import__("pathlib").Path({path!r}))
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{wall:.2f}} {{rss:.0f}} {{len(trace.samples)}} {{len(trace.meta.gpus)}}")
"""


def write_log(path: Path, hours: float, gpus: int, compress: bool) -> int:
    """Write the log in blocks of an hour; returns the number of data rows."""
    seconds = int(hours * 3600)
    rng = np.random.default_rng(1)
    opener = gzip.open if compress else open
    with opener(path, "wt") as f:  # type: ignore[operator]
        f.write(FIELDS + "\n")
        base = np.datetime64("2026-07-14T00:00:00.353")
        for block in range(0, seconds, 3600):
            n = min(3600, seconds - block)
            stamps = (base + np.arange(block, block + n).astype("timedelta64[s]")).astype(str)
            stamps = np.char.replace(np.char.replace(stamps, "-", "/"), "T", " ")
            lines = []
            for g in range(gpus):
                util = rng.integers(0, 101, n)
                power = rng.uniform(80, 700, n)
                clock = np.where(util > 50, 1980, 1755)
                reasons = np.where(util > 95, "0x0000000000000004", "0x0000000000000000")
                gap = rng.random(n) < 0.001
                pw = np.where(gap, "[N/A]", np.char.add(np.char.mod("%.2f", power), " W"))
                lines.append(np.char.add(stamps, f", {g}, NVIDIA H100 80GB HBM3, "))
                rest = [np.char.add(util.astype(str), " %"), np.char.add(
                    (util // 3).astype(str), " %"), np.full(n, "40000 MiB"),
                        np.full(n, "81559 MiB"), (60 + util // 10).astype(str), pw,
                        np.char.add(clock.astype(str), " MHz"), np.full(n, "2619 MHz"),
                        reasons, np.full(n, "5")]
                for col in rest:
                    lines[-1] = np.char.add(np.char.add(lines[-1], col), ", ")
                lines[-1] = np.char.rstrip(lines[-1], ", ")
            rows = np.stack(lines, axis=1).reshape(-1)  # interleaved: each second, GPU 0..n
            f.write("\n".join(rows.tolist()) + "\n")
    return seconds * gpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--gzip", action="store_true", help="also time the gzip of the same log")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kinds = [False, True] if a.gzip else [False]
        for compress in kinds:
            path = Path(tmp) / ("smi.csv.gz" if compress else "smi.csv")
            t0 = time.perf_counter()
            rows = write_log(path, a.hours, a.gpus, compress)
            print(f"wrote {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
                  f"({time.perf_counter() - t0:.1f} s)")
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT),
                                                                      path=str(path))],
                                 capture_output=True, text=True, env=env, check=True)
            wall, rss, samples, gpus = out.stdout.split()
            print(f"import {path.name}: {float(wall):.2f} s wall (goal < 5 s), peak RSS "
                  f"{rss} MB, {int(samples):,} samples, {gpus} GPUs, "
                  f"{rows / float(wall):,.0f} rows/s")


if __name__ == "__main__":
    main()
