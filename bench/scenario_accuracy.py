"""How often `diagnose` names each simulated scenario's bottleneck first, over seeds.

    python -m bench.scenario_accuracy                         # every scenario, 8 GPUs, 180 s
    python -m bench.scenario_accuracy data-starved-cpu --gpus 2,4,8 --seeds 8

A scenario named after a finding id should give that id as the top finding at warning or
above; `healthy` and the `lookalike-*` scenarios should give no warning or critical finding.
Prints one line per scenario and GPU count: correct runs out of all, what the wrong ones
said instead, and the other unexplained warning+ findings.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from profiler import api
from profiler.simulate import SCENARIOS, simulate


def serious_findings(scenario: str, gpus: int, duration_s: float, seed: int) -> list[str]:
    """The ids of the warning and critical findings, ranked, that another does not explain."""
    hosts = 2 if scenario in ("allreduce-bound", "straggler") else 1
    trace = simulate(scenario, duration_s=duration_s, gpus=gpus, hosts=hosts, seed=seed)
    report = api.diagnose(trace)
    return [f.id for f in report.findings
            if f.severity in ("warning", "critical") and f.explained_by is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="?", default=",".join(SCENARIOS),
                        help="comma-separated scenario names (default: all)")
    parser.add_argument("--gpus", default="8", help="comma-separated GPU counts per host")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds simulated")
    parser.add_argument("--seeds", type=int, default=4, help="seeds 1..N per case")
    args = parser.parse_args()
    started = time.perf_counter()
    total = correct = 0
    for scenario in args.scenarios.split(","):
        want = SCENARIOS[scenario].expected_finding
        for gpus in (int(g) for g in args.gpus.split(",")):
            runs = [serious_findings(scenario, gpus, args.duration, seed)
                    for seed in range(1, args.seeds + 1)]
            got = Counter(ids[0] if ids else None for ids in runs)
            extra = Counter(i for ids in runs for i in ids[1:] if i != ids[0])
            hits = got.pop(want, 0)
            total += args.seeds
            correct += hits
            wrong = ", ".join(f"{k or 'nothing'} x{n}" for k, n in got.most_common())
            print(f"{scenario:24} {gpus} GPUs: {hits}/{args.seeds} "
                  f"(expected {want or 'nothing at warning+'})"
                  + (f"; instead: {wrong}" if wrong else "")
                  + (f"; also: {dict(extra)}" if extra else ""), flush=True)
    print(f"overall {correct}/{total} correct in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
