"""Rewrite sample_traces/: one simulated native trace per scenario, and what each should say.

    python sample_traces/regenerate.py

Each scenario is a 120 s recording of one 8-GPU H100 node at 1 Hz (two nodes for
`allreduce-bound` and `straggler`, whose causes live between nodes), seed 7. `expected.json`
maps each trace to the finding id `profiler diagnose` must rank first at warning or above, or
to null where no warning or critical finding is acceptable (healthy and look-alike runs).
tests/test_sample_traces.py holds the traces to it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from profiler.simulate import SCENARIOS, simulate  # noqa: E402
from profiler.storage import write_trace  # noqa: E402

DURATION_S = 120.0
SEED = 7
GPUS = 8
MULTI_HOST = {"allreduce-bound": 2, "straggler": 2}


def main() -> None:
    expected: dict[str, str | None] = {}
    for name in SCENARIOS:
        out = HERE / name
        if out.exists():
            shutil.rmtree(out)
        trace = simulate(name, duration_s=DURATION_S, gpus=GPUS,
                         hosts=MULTI_HOST.get(name, 1), seed=SEED)
        write_trace(trace, out)
        expected[name] = SCENARIOS[name].expected_finding
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
