"""HTA and profiler on the same PyTorch profiler traces: both sets of numbers, both times.

For each trace set (a directory of per-rank traces, or one file) under ../shared/traces, runs
Holistic Trace Analysis in its own virtual environment (a separate process; HTA is not a
dependency of ours) and profiler in this one, and prints, per rank, idle / compute /
non-compute % from each, and the time each took to load the traces and compute the temporal
breakdown (best of --reps). Goal (issue 6): shares within 1 point, profiler >= 5x faster.

HTA is installed by hand, not by this script:
    python3 -m venv /tmp/hta-venv && /tmp/hta-venv/bin/pip install HolisticTraceAnalysis \\
        'pandas==2.3.3'      # HTA 0.5.0 breaks on pandas 3 for some traces

usage: python bench/pytorch_vs_hta.py [--hta-python /tmp/hta-venv/bin/python] [--reps 3]
           [--exact] [--only kineto_tb]
--exact compares without HTA's µs rounding (HTA_DISABLE_NS_ROUNDING=1 for HTA).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from profiler.pytorch import hta  # noqa: E402
from profiler.pytorch.reader import read_ranks  # noqa: E402

TRACES = ROOT.parent / "shared" / "traces"
SETS = (
    "kineto_tb/resnet50_num_workers_0/worker0.1623143089861.pt.trace.json.gz",
    "kineto_tb/resnet50_num_workers_4/worker0.1623212756351.pt.trace.json.gz",
    "kineto_tb_2021feb/resnet50_profiler_api_num_workers_0",
    "kineto_tb_2021feb/resnet50_autograd_api_num_workers_0",
    "hta/trace_filter",
    "hta/df_index_resolver",
    "hta/negative_queue_length_values_check",
    "hta/ns_resolution_trace",
    "hta/trace_diff/control",
    "hta/trace_diff/test",
    "tracelens/h100/google_owlv2-large-patch14-ensemble__1016001.json.gz",
    "tracelens/mi300/resnet_act_checkpoint.json.gz",
)

HTA_SCRIPT = r"""
import json, logging, sys, time, warnings
logging.disable(logging.CRITICAL); warnings.simplefilter("ignore")
from hta.trace_analysis import TraceAnalysis
files = {int(k): v for k, v in json.loads(sys.argv[1]).items()}
reps = int(sys.argv[2]); trace_dir = sys.argv[3]
best = None
for _ in range(reps):
    t0 = time.perf_counter()
    analyzer = TraceAnalysis(trace_files=files, trace_dir=trace_dir)
    t1 = time.perf_counter()
    df = analyzer.get_temporal_breakdown(visualize=False)
    t2 = time.perf_counter()
    if best is None or t2 - t0 < best[0]:
        best = (t2 - t0, t1 - t0)
rows = {int(r.rank): [r.idle_time_pctg, r.compute_time_pctg, r.non_compute_time_pctg]
        for r in df.itertuples()}
print(json.dumps({"total_s": best[0], "load_s": best[1], "rows": rows}))
"""


def files_of(target: Path) -> list[Path]:
    return sorted(p for p in target.iterdir() if p.name.endswith((".json", ".json.gz"))) \
        if target.is_dir() else [target]


def run_hta(python: str, target: Path, reps: int, exact: bool) -> dict[str, object]:
    ranks = read_ranks([target])  # HTA needs rank -> file; use the ranks we find
    files = {r.rank: str(r.path) for r in ranks}
    env = dict(os.environ, HTA_DISABLE_NS_ROUNDING="1" if exact else "0")
    out = subprocess.run([python, "-c", HTA_SCRIPT, json.dumps(files), str(reps),
                          str(ranks[0].path.parent)], capture_output=True, text=True, env=env,
                         timeout=3600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_ours(target: Path, reps: int, exact: bool) -> dict[str, object]:
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        ranks = read_ranks([target])
        t1 = time.perf_counter()
        multi = hta.has_multiple_steps(ranks)
        views = [hta.hta_view(r, rounding=not exact, filter_steps=multi) for r in ranks]
        tb = hta.temporal_breakdown(views)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best[0]:
            best = (t2 - t0, t1 - t0)
    assert best is not None
    rows = {int(rank): [row.idle_pct, row.compute_pct, row.non_compute_pct]
            for rank, row in tb.iterrows()}
    return {"total_s": best[0], "load_s": best[1], "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hta-python", default="/tmp/hta-venv/bin/python")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--exact", action="store_true", help="no µs rounding on either side")
    ap.add_argument("--only", action="append", help="substring of the set names to run")
    args = ap.parse_args()
    if not Path(args.hta_python).exists():
        sys.exit(f"no HTA interpreter at {args.hta_python}: create the venv (see --help)")
    sets = [s for s in SETS if not args.only or any(o in s for o in args.only)]
    print(f"{'set':<58} {'rank':>4}  {'HTA idle/comp/non %':>22}  {'ours idle/comp/non %':>22}"
          f"  {'max Δ':>6}  {'HTA s':>6}  {'ours s':>6}  {'x':>5}")
    total_hta = total_ours = 0.0
    for name in sets:
        target = TRACES / name
        if not target.exists():
            continue
        theirs = run_hta(args.hta_python, target, args.reps, args.exact)
        ours = run_ours(target, args.reps, args.exact)
        if "error" in theirs:
            print(f"{name:<58} HTA failed: {theirs['error']}")
            continue
        t_h, t_o = float(theirs["total_s"]), float(ours["total_s"])  # type: ignore[arg-type]
        total_hta += t_h
        total_ours += t_o
        h_rows: dict[str, list[float]] = theirs["rows"]  # type: ignore[assignment]
        o_rows: dict[int, list[float]] = ours["rows"]  # type: ignore[assignment]
        for i, (rank, h) in enumerate(sorted(h_rows.items(), key=lambda kv: int(kv[0]))):
            o = o_rows[int(rank)]
            delta = max(abs(a - b) for a, b in zip(h, o, strict=True))
            timing = (f"{t_h:6.2f}  {t_o:6.2f}  {t_h / t_o:5.1f}" if i == 0 else "")
            print(f"{name if i == 0 else '':<58} {rank:>4}  "
                  f"{'/'.join(f'{v:.2f}' for v in h):>22}  "
                  f"{'/'.join(f'{v:.2f}' for v in o):>22}  {delta:6.2f}  {timing}")
    if total_ours:
        print(f"\nall sets: HTA {total_hta:.2f} s, profiler {total_ours:.2f} s, "
              f"{total_hta / total_ours:.1f}x (load + temporal breakdown, best of {args.reps})")


if __name__ == "__main__":
    main()
