"""`profiler diagnose TRACE` on PyTorch profiler traces: findings, the breakdown, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler import api
from profiler.report import report_to_dict
from tests.cli_helpers import run_cli
from tests.pytorch.kineto import (
    NCCL,
    NEEDS_TRACES,
    NW0,
    NW4,
    TRACES,
    gpu_op,
    launch,
    worked_example,
    write,
)

FEB = TRACES / "kineto_tb_2021feb"


def _report(*paths: Path) -> dict[str, Any]:
    trace, source = api.load(list(paths))
    return report_to_dict(api.diagnose(trace, source))


def _ids(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in report["findings"]}


@pytest.mark.parametrize(("starved", "fed"), [
    pytest.param(NW0, NW4, id="kineto_tb-june"),
    pytest.param(FEB / "resnet50_profiler_api_num_workers_0", FEB /
                 "resnet50_profiler_api_num_workers_4", id="kineto_tb-feb"),
])
def test_the_dataloader_heavy_run_is_data_starved_and_its_pair_is_not(starved: Path,
                                                                       fed: Path) -> None:
    if not starved.exists():
        pytest.skip(NEEDS_TRACES)
    heavy, light = _report(starved), _report(fed)
    found = _ids(heavy)["data-starved"]
    assert found["entities"] == ["rank0/gpu0"]
    loader = heavy["breakdown"]["0"]["dataloader_pct"]
    assert loader > 20 and "DataLoader" in found["summary"]
    # the loss is GPU idle under DataLoader spans: less than the DataLoader share, more than 0
    assert 0.1 < found["gpu_time_lost"] < loader / 100
    assert "data-starved-cpu" in _ids(heavy)  # num_workers=0: loading on the training thread
    assert light["breakdown"]["0"]["dataloader_pct"] < 2
    assert "data-starved" not in _ids(light) and "data-starved-cpu" not in _ids(light)


@pytest.mark.skipif(not NW0.exists(), reason=NEEDS_TRACES)
def test_json_breakdown_per_rank_from_the_cli() -> None:
    out = run_cli("diagnose", str(TRACES / "hta/trace_filter"), "-f", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert sorted(report["breakdown"]) == ["0", "1"]
    for rank, b in report["breakdown"].items():
        assert b["gpu"] == f"rank{rank}/gpu{rank}"
        assert b["idle_us"] + b["compute_us"] + b["non_compute_us"] == pytest.approx(
            b["total_us"])
        assert 0 < b["comm_overlap_pct"] < 100 and b["step_time_us"] > 0
        assert b["dataloader_pct"] == 0.0 and b["steps"] == 2
    assert report["source"]["formats"] == ["pytorch"]


def _two_ranks(tmp_path: Path, late_us: float) -> Path:
    """Two ranks running the same 3 all-reduces; rank 1 starts each `late_us` later."""
    tmp_path.mkdir(exist_ok=True)
    for rank in (0, 1):
        extra = []
        for k in range(3):
            ts = 1000 + 400 * k + (late_us if rank == 1 else 0)
            extra += [gpu_op("kernel", NCCL, 20, ts, 1000 + 400 * k + late_us + 50, 200 + k),
                      launch(ts - 5, 200 + k)]
        doc = worked_example(extra, rank=rank)
        for e in doc["traceEvents"]:  # one long step so the collectives are analysed
            if e["name"].startswith("ProfilerStep#"):
                e["dur"] = 3000 if e["name"].endswith("#1") else 10
                e["ts"] = 0 if e["name"].endswith("#1") else 3000 + 10 * int(e["name"][-1])
        write(tmp_path / f"rank{rank}.json", doc)
    return tmp_path


def test_the_rank_that_reaches_collectives_last_is_the_straggler(tmp_path: Path) -> None:
    report = _report(_two_ranks(tmp_path / "late", late_us=100))
    found = _ids(report)["straggler"]
    assert found["entities"] == ["rank1"]
    total_us = sum(b["total_us"] for b in report["breakdown"].values())
    assert found["gpu_time_lost"] == pytest.approx(3 * 100 / total_us, abs=1e-6)
    on_time = _report(_two_ranks(tmp_path / "on_time", late_us=0))
    assert "straggler" not in _ids(on_time)


def test_gpu_waiting_for_launches_is_launch_bound(tmp_path: Path) -> None:
    report = _report(write(tmp_path / "t.json", worked_example()))
    found = _ids(report)["launch-bound"]
    # idle 10 of 40 µs; stream 7's gaps: 10 µs host wait, 5 µs kernel wait -> 10 x 10/15 / 40
    assert found["gpu_time_lost"] == pytest.approx(10 * (10 / 15) / 40, abs=1e-6)  # JSON: 6 dp
    assert report["breakdown"]["0"]["idle_host_wait_pct"] == pytest.approx(100 * 10 / 15,
                                                                          abs=0.01)


def test_launch_bound_is_listed_by_profiler_rules() -> None:
    out = run_cli("rules")
    assert out.returncode == 0 and "launch-bound" in out.stdout
    assert "data-starved (from pytorch data)" in out.stdout


@pytest.mark.parametrize("content", [
    pytest.param(b'{"schemaVersion": 1, "traceEvents": [{"ph": "X", "ts": 1,', id="truncated"),
    pytest.param(b'{"schemaVersion": 1, "traceEvents": [{"ph": "X"} {"ph": "X"}]}', id="comma"),
])
def test_malformed_trace_fails_with_one_line_and_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt.trace.json"
    path.write_bytes(content)
    out = run_cli("diagnose", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in out.stderr


def test_exposed_copies_are_pcie_bound_and_hidden_ones_are_not(tmp_path: Path) -> None:
    exposed = gpu_op("gpu_memcpy", "Memcpy HtoD (Pageable -> Device)", 7, 52, 58, 40)
    hidden = gpu_op("gpu_memcpy", "Memcpy HtoD (Pinned -> Device)", 9, 11, 17, 41)
    doc = worked_example([exposed, launch(51, 40), hidden, launch(9, 41)])
    report = _report(write(tmp_path / "t.json", doc))
    found = _ids(report)["pcie-bound"]
    # span 10..58 = 48 µs; exposed host copies: M [30,35) + [52,58) = 11; the hidden one sits
    # under gemm A [10,20)
    assert found["gpu_time_lost"] == pytest.approx(11 / 48, abs=1e-6)


@pytest.mark.skipif(not NW0.exists(), reason=NEEDS_TRACES)
def test_fp32_convolutions_on_a_volta_leave_tensor_cores_unused() -> None:
    report = _report(NW0)
    found = _ids(report)["tensor-cores-unused"]
    b = report["breakdown"]["0"]
    assert b["tensor_core_kernel_pct"] == 0 and b["tensor_core_eligible_pct"] > 10
    assert "7.x" in found["summary"] and found["gpu_time_lost"] > 0.05


@pytest.mark.skipif(not (TRACES / "tracelens/mi300/resnet_act_checkpoint.json.gz").exists(),
                    reason=NEEDS_TRACES)
def test_communication_with_nothing_beside_it_is_allreduce_bound() -> None:
    report = _report(TRACES / "tracelens/mi300/resnet_act_checkpoint.json.gz")
    found = _ids(report)["allreduce-bound"]
    assert found["severity"] == "critical" and found["gpu_time_lost"] > 0.5
    # AMD: tensor-core kernel names are NVIDIA's, so that rule is not checked
    assert "tensor-cores-unused" in {n["rule"] for n in report["not_checked"]}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_terminal_and_markdown_reports_show_the_breakdown_per_rank(tmp_path: Path,
                                                                   fmt: str) -> None:
    path = write(tmp_path / "t.json", worked_example())
    out = run_cli("diagnose", str(path), "-f", fmt)
    assert out.returncode == 0, out.stderr
    assert "GPU time per rank" in out.stdout
    table = out.stdout[out.stdout.index("GPU time per rank"):]
    row = next(line for line in table.splitlines() if "rank0/gpu0" in line)
    # the worked example: span 40 µs, idle 25 %, compute 50 %, non-compute 25 %, 50 % hidden
    for cell in ("0.0 ms", "25.0 %", "50.0 %"):
        assert cell in row, row
