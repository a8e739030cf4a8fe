"""Step breakdown against the TensorBoard plugin's own hand-checked output on its samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.pytorch import steps
from profiler.pytorch.reader import read_ranks
from tests.pytorch.kineto import NEEDS_TRACES, NW0, NW4, TRACES, worked_example, write

# kineto_tb/expected/result_check_file.txt: average over ProfilerStep#5-10, % of the step
PLUGIN = {
    NW0: {"step_time_us": 177.6e3, "kernel_pct": 55.51, "dataloader_pct": 33.37,
          "cpu_exec_pct": 7.70, "runtime_pct": 1.64, "other_pct": 0.65},
    NW4: {"step_time_us": 141.1e3, "kernel_pct": 70.28, "dataloader_pct": 0.84,
          "cpu_exec_pct": 16.07, "runtime_pct": 7.49, "other_pct": 3.01},
    TRACES / "kineto_tb_2021feb/resnet50_autograd_api_num_workers_0/worker0.pt.trace.json.gz": {
        "kernel_pct": 18.22, "dataloader_pct": 5.08, "runtime_pct": 70.4, "cpu_exec_pct": 5.85},
}


@pytest.mark.parametrize("path", [pytest.param(p, id=p.parent.name) for p in PLUGIN])
def test_step_parts_match_the_tensorboard_plugin(path: Path) -> None:
    if not path.exists():
        pytest.skip(NEEDS_TRACES)
    summary = steps.step_summary(steps.step_breakdown(read_ranks([path])[0])).loc[0]
    for key, want in PLUGIN[path].items():
        if key == "step_time_us":
            assert summary[key] == pytest.approx(want, rel=0.001)
        else:
            assert summary[key] == pytest.approx(want, abs=0.05), key


def test_parts_add_up_to_the_step_and_the_truncated_last_step_is_dropped(tmp_path: Path) -> None:
    rows = steps.step_breakdown(read_ranks([write(tmp_path / "t.json", worked_example())])[0])
    # step 3 launched 1 GPU op, step 2 none: the last step is kept, as it launched at least
    # 80 % of the ops of the one before it
    assert rows["step"].tolist() == [1, 2, 3]
    parts = rows[[c for c in rows.columns if c.endswith("_us") and c != "step_us"]].sum(axis=1)
    assert parts.tolist() == pytest.approx(rows["step_us"].tolist())
    assert rows.loc[0, "kernel_us"] == 25  # [10, 25) and [40, 50): gemm, nccl (no nccl: op)


def test_tensor_core_shares_by_kernel_name_and_by_launching_op(tmp_path: Path) -> None:
    doc = worked_example()
    doc["traceEvents"][3]["name"] = "volta_h884gemm_128x128_nn"  # A: a tensor-core kernel
    doc["traceEvents"].append({"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 100,
                               "tid": 100, "ts": 4, "dur": 3, "args": {"External id": 1}})
    use = steps.tensor_core_use(read_ranks([write(tmp_path / "t.json", doc)])[0])
    assert use["tc_kernel_share"] == pytest.approx(10 / 40)  # A of A, N, B, C (memcpy apart)
    assert use["tc_eligible_share"] == pytest.approx(10 / 40)
