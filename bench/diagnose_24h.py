"""Diagnose a simulated 24-hour, 8-GPU, 1 Hz trace (host metrics too) end to end.

Prints the wall time and peak RSS of `profiler diagnose TRACE` (a fresh process: read the
Parquet trace, build features, run every rule, render) and the throughput in samples/s.
Goal (issue 4): < 5 s wall and < 2 GB peak RSS on a 2-core machine.

usage: python bench/diagnose_24h.py [--hours 24] [--gpus 8] [--scenario data-starved-storage]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


SIMULATE = """
import sys
from profiler.simulate import simulate
from profiler.storage import write_trace
scenario, seconds, gpus, path = sys.argv[1:]
trace = simulate(scenario, duration_s=float(seconds), gpus=int(gpus), seed=1)
write_trace(trace, path)
print(len(trace.samples), trace.tick_count)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--scenario", default="data-starved-storage")
    ap.add_argument("--keep", help="write the trace here and keep it")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(a.keep or os.path.join(tmp, "day.trace"))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        # Simulate in a child: Linux carries a process's peak RSS across fork and exec, so a
        # diagnose forked from a process that held the day's trace would report that peak.
        t0 = time.perf_counter()
        made = subprocess.run([sys.executable, "-c", SIMULATE, a.scenario, str(a.hours * 3600),
                               str(a.gpus), str(path)], capture_output=True, text=True, env=env,
                              check=False)
        if made.returncode != 0:
            sys.exit(f"simulate failed ({made.returncode}): {made.stderr.strip()}")
        rows, ticks = (int(v) for v in made.stdout.split())
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        print(f"simulated {a.hours:g} h x {a.gpus} GPUs: {rows:,} rows, {ticks:,} samples, "
              f"{size / 1e6:.1f} MB on disk ({time.perf_counter() - t0:.1f} s)")
        report, errors = Path(tmp) / "report.json", Path(tmp) / "stderr.txt"
        t0 = time.perf_counter()
        with report.open("w") as out, errors.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "profiler", "diagnose", str(path),
                                     "-f", "json"], stdout=out, stderr=err, env=env)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the simulator's
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"diagnose failed ({status}): {errors.read_text().strip()}")
        import json

        findings = [f["id"] for f in json.loads(report.read_text())["findings"]]
        print(f"diagnose: {wall:.2f} s wall, peak RSS {usage.ru_maxrss / 1024:.0f} MB, "
              f"{rows / wall:,.0f} rows/s, {ticks * a.gpus / wall:,.0f} GPU-samples/s")
        print(f"findings: {', '.join(findings) or 'none'}")


if __name__ == "__main__":
    main()
