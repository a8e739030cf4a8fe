"""`profiler record` for real on this machine: samples, info, SIGTERM and SIGKILL."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from profiler.storage import read_trace
from tests.cli_helpers import popen_cli, run_cli

pytestmark = pytest.mark.slow


def test_record_three_seconds_then_info_says_why_gpu_metrics_are_missing(tmp_path: Path) -> None:
    out = tmp_path / "t"
    result = run_cli("record", "--duration", "3", "--interval", "0.1", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    samples = pd.read_parquet(out)
    host_ticks = samples.loc[samples["metric"].astype(str).str.startswith("host."), "ts"].nunique()
    assert host_ticks >= 25
    info = run_cli("info", str(out))
    assert info.returncode == 0
    assert "host.cpu.user" in info.stdout
    unavailable = info.stdout.split("Unavailable", 1)[1]
    assert "gpu.*" in unavailable and "NVML" in unavailable
    assert "Recorder overhead:" in info.stdout


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def test_sigterm_finalizes_the_trace(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = popen_cli("record", "--interval", "0.1", "--output", str(out))
    _wait_for(lambda: (out / "_trace.json").exists(), 30)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    trace = read_trace(out)
    assert trace.meta.complete and (out / "samples.parquet").exists()
    assert trace.tick_count >= 10


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    out, flush, interval = tmp_path / "t", 0.5, 0.1
    proc = popen_cli("record", "--interval", str(interval), "--flush", str(flush),
                     "--output", str(out))
    _wait_for(lambda: len(list(out.glob("part-*.parquet"))) >= 4, 60)
    time.sleep(0.3)
    proc.kill()  # SIGKILL: no handler runs, nothing is finalized
    killed_at = pd.Timestamp.now(tz="UTC")
    proc.wait(timeout=30)
    info = run_cli("info", str(out))
    assert info.returncode == 0, info.stderr
    assert "INCOMPLETE" in info.stdout
    trace = read_trace(out)
    assert not trace.meta.complete
    frame = pd.read_parquet(out)  # pandas alone reads what the killed recorder left
    assert len(frame) == len(trace.samples) > 0
    lost_s = (killed_at - trace.end).total_seconds()
    # At most one flush interval plus the tick in progress (and scheduling slack) is lost.
    assert lost_s <= flush + 2 * interval + 0.5, lost_s
