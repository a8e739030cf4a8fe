"""Build small Kineto traces for tests (the worked example of pytorch-trace.md §5.5)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.conftest import SHARED

TRACES = SHARED / "traces"
NEEDS_TRACES = "../shared/traces is absent: real PyTorch traces are read from there"
NW0 = TRACES / "kineto_tb/resnet50_num_workers_0/worker0.1623143089861.pt.trace.json.gz"
NW4 = TRACES / "kineto_tb/resnet50_num_workers_4/worker0.1623212756351.pt.trace.json.gz"

GEMM = "void gemm_kernel(float*)"
NCCL = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"


def gpu_op(cat: str, name: str, stream: int, ts: float, end: float, corr: int) -> dict[str, Any]:
    return {"ph": "X", "cat": cat, "name": name, "pid": 0, "tid": stream, "ts": ts,
            "dur": end - ts, "args": {"stream": stream, "correlation": corr, "device": 0,
                                      "External id": corr}}


def launch(ts: float, corr: int) -> dict[str, Any]:
    return {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 100,
            "tid": 100, "ts": ts, "dur": 1, "args": {"correlation": corr, "External id": corr}}


def worked_example(extra: list[dict[str, Any]] | None = None, rank: int | None = 0,
                   step_cat: str = "user_annotation") -> dict[str, Any]:
    """§5.5: three steps; A, N, M, B in the first two, C in the last (dropped by HTA)."""
    events: list[dict[str, Any]] = [
        {"ph": "X", "cat": step_cat, "name": f"ProfilerStep#{i + 1}", "pid": 100, "tid": 100,
         "ts": 60 * i, "dur": 60, "args": {}} for i in range(3)]
    rows = [("kernel", GEMM, 7, 10, 20, 5), ("kernel", NCCL, 20, 15, 25, 11),
            ("gpu_memcpy", "Memcpy DtoH (Device -> Pinned)", 7, 30, 35, 22),
            ("kernel", "void elementwise_kernel(float*)", 7, 40, 50, 32),
            ("kernel", GEMM, 7, 130, 140, 125)]
    for corr, (cat, name, stream, ts, end, rts) in enumerate(rows, start=1):
        events += [gpu_op(cat, name, stream, ts, end, corr), launch(rts, corr)]
    events += extra or []
    events.append({"ph": "i", "s": "g", "name": "Iteration Start: PyTorch Profiler",
                   "pid": "Traces", "tid": "", "ts": 0})
    doc: dict[str, Any] = {"schemaVersion": 1, "deviceProperties": [
        {"id": 0, "name": "Test GPU", "computeMajor": 8, "totalGlobalMem": 1 << 34}],
        "traceEvents": events}
    if rank is not None:
        doc["distributedInfo"] = {"backend": "nccl", "rank": rank, "world_size": 2}
    return doc


def write(path: Path, doc: Any, *, gz: bool | None = None) -> Path:
    data = json.dumps(doc, indent=1).encode()
    if gz if gz is not None else path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path
