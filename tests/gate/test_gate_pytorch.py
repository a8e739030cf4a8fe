"""`profiler gate` on real PyTorch profiler traces: the TB plugin's labelled ResNet50 runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from profiler import api
from tests.cli_helpers import run_cli
from tests.pytorch.kineto import NEEDS_TRACES, TRACES

RUNS = TRACES / "kineto_tb"
STARVED = RUNS / "resnet50_num_workers_0" / "worker0.1623143089861.pt.trace.json.gz"
FED = RUNS / "resnet50_num_workers_4" / "worker0.1623212756351.pt.trace.json.gz"
FED_AGAIN = RUNS / "resnet50_num_workers_4" / "worker0.1623213129365.pt.trace.json.gz"

pytestmark = pytest.mark.skipif(not RUNS.is_dir(), reason=NEEDS_TRACES)


def test_step_times_come_from_the_timeline() -> None:
    trace, _ = api.load([STARVED])
    (analysis,) = trace.analyses.values()
    steps = analysis.step_times()
    # the TB plugin's own check file gives a 177.6 ms mean step for this run
    assert len(steps) >= 5 and np.mean(steps) == pytest.approx(0.1776, rel=0.01)


def test_a_dataloader_bound_run_fails_against_a_fed_one(tmp_path: Path) -> None:
    done = run_cli("gate", str(FED), str(STARVED), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "new-finding/data-starved" in done.stdout


def test_two_fed_runs_pass(tmp_path: Path) -> None:
    done = run_cli("gate", str(FED), str(FED_AGAIN), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
