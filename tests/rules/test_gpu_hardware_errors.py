"""gpu-hardware-errors with random XID mixes: exactly the affected GPUs, severity by XID class."""

from __future__ import annotations

import numpy as np
import pytest

from profiler.trace import Trace
from rules.gpu_hardware_errors import XIDS
from tests.rules.gpu_generators import run_rule

RULE = "gpu-hardware-errors"
APP = [c for c, (_, hw) in XIDS.items() if not hw]
HARDWARE = [c for c, (_, hw) in XIDS.items() if hw]


@pytest.mark.parametrize("seed", range(10))
def test_random_xids_name_the_gpus_and_classify(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_gpus = 8
    events, expected = [], {}
    for gpu in rng.choice(n_gpus, size=int(rng.integers(1, n_gpus)), replace=False):
        codes = [int(c) for c in rng.choice(APP + HARDWARE, size=int(rng.integers(1, 4)))]
        for c in codes:
            events.append({"ts": f"2026-01-01T00:00:{int(rng.integers(0, 59)):02d}Z",
                           "entity": f"gpu{gpu}", "kind": "xid", "code": c})
        hw = any(XIDS[c][1] for c in codes)
        expected[f"node1/gpu{gpu}"] = "critical" if hw else "info"
    series = {f"gpu{i}": {"gpu.util": [1.0] * 60} for i in range(n_gpus)}
    out = run_rule(Trace.from_series(series, events=events), RULE)
    assert {f.entities[0]: f.severity for f in out.findings} == expected
    for f in out.findings:
        assert f.hardware_error == (f.severity == "critical")
        assert "XID" in f.summary


@pytest.mark.parametrize("seed", range(5))
def test_dcgm_last_xid_series(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    code = int(rng.choice(HARDWARE))
    at = int(rng.integers(1, 59))
    series = {"gpu0": {"gpu.xid_last": [0.0] * 60},
              "gpu1": {"gpu.xid_last": [0.0] * at + [float(code)] * (60 - at)}}
    (finding,) = run_rule(Trace.from_series(series), RULE).findings
    assert finding.entities == ("node1/gpu1",)
    assert f"XID {code} ({XIDS[code][0]})" in finding.summary
    assert finding.severity == "critical"
