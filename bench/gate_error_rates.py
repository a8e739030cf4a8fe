"""Print the gate's false-positive rate and power on autocorrelated series (seeded).

usage: python bench/gate_error_rates.py [trials]     (default 5000 per row)

Same-distribution pairs give the false-positive rate; a candidate 10 % (and 5 %) worse gives
the power. Rows: the default sample size (300 per side after warm-up, phi 0.8, CV 5 %), then
noisier and more autocorrelated cases, and the significance part alone (no practical floor).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from profiler.gate.calibration import DEFAULT_CV, DEFAULT_PHI, DEFAULT_SAMPLES, error_rate
from profiler.gate.settings import GateSettings


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    base = GateSettings()
    no_floor = replace(base, thresholds={"gpu_busy": 0.0})
    rows = [
        ("default", DEFAULT_SAMPLES, DEFAULT_CV, DEFAULT_PHI, base),
        ("noisier", DEFAULT_SAMPLES, 0.10, DEFAULT_PHI, base),
        ("tau 19", 600, DEFAULT_CV, 0.9, base),
        ("shortest", 200, DEFAULT_CV, DEFAULT_PHI, base),
        ("no floor", DEFAULT_SAMPLES, 0.10, DEFAULT_PHI, no_floor),
    ]
    print(f"profiler gate error rates: AR(1) series, {trials} seeded trials per cell, "
          f"alpha={base.alpha}, floor 3 % unless 'no floor'")
    print(f"{'case':<10} {'n':>5} {'cv':>5} {'phi':>4} | {'false pos':>9} {'inconcl':>8} | "
          f"{'power 10%':>9} {'power 5%':>9} | {'s':>5}")
    for label, n, cv, phi, settings in rows:
        t0 = time.perf_counter()
        fp = error_rate(trials, drop=0.0, n=n, cv=cv, phi=phi, seed=1, settings=settings)
        p10 = error_rate(trials, drop=0.10, n=n, cv=cv, phi=phi, seed=2, settings=settings)
        p5 = error_rate(trials, drop=0.05, n=n, cv=cv, phi=phi, seed=3, settings=settings)
        print(f"{label:<10} {n:>5} {cv:>5.0%} {phi:>4} | {fp.regression:>9.2%} "
              f"{fp.inconclusive:>8.2%} | {p10.regression:>9.2%} {p5.regression:>9.2%} | "
              f"{time.perf_counter() - t0:>5.1f}")


if __name__ == "__main__":
    main()
