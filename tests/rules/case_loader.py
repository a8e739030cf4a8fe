"""Data-driven rule cases: tests/rules/cases/<rule_module>.yml, one named case per key.

A case builds a Trace with Trace.from_series and runs one rule through the real engine:

    rule: thermal-throttling
    fail_hot_gpu:
      interval_s: 1            # optional
      samples:                 # {entity: {metric: values}}; "node2/gpu0" names another host
        gpu0: {gpu.clocks_event_reasons: "0x20*30, 0*10", gpu.temp: "91*40"}
      thresholds: {min_active_fraction: 0.05}   # optional overrides
      meta: {source: record, gpus: [{entity: gpu0, index: 0, max_sm_clock: 1.98e9}]}  # optional
      events: [{ts: "2026-01-01T00:00:05Z", entity: gpu0, kind: xid, code: 79, message: "..."}]
      findings:                # fail_ cases: every expected finding, in any order
        - entities: [node1/gpu0]
          gpu_time_lost: [0.5, 0.8]    # [low, high] inclusive, or null for "not estimable"
          severity: critical           # optional
          evidence: {gpu.temp: [90, 92]}  # optional: metric -> observed range on the finding
    pass_cool: {samples: ...}          # pass_ cases: no finding at all
    not_checked_no_metric: {samples: ..., not_checked: "needs gpu.clocks_event_reasons"}

Value lists are YAML lists or strings of comma-separated "VALUE*COUNT" runs ("1*50, 0*50");
VALUE may be hex ("0x24") or "nan" (a gap). Parsed without eval.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from profiler.engine import RuleSettings, run_rules
from profiler.features import Features
from profiler.trace import GpuInfo, ProcessInfo, Trace, TraceMeta

CASES_DIR = Path(__file__).parent / "cases"
PREFIXES = ("pass_", "fail_", "not_checked_")


@dataclass(frozen=True)
class RuleCase:
    rule: str
    name: str
    body: dict[str, Any]
    path: Path

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.name}"


def parse_values(spec: Any) -> list[float]:
    if isinstance(spec, list):
        return [float(v) for v in spec]
    if isinstance(spec, (int, float)):
        return [float(spec)]
    values: list[float] = []
    for run in str(spec).split(","):
        value, _, count = run.strip().partition("*")
        number = float(int(value, 16)) if value.lower().startswith("0x") else float(value)
        values.extend([number] * (int(count) if count else 1))
    return values


def load_cases() -> list[RuleCase]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        rule_id = doc.pop("rule")
        for name, body in doc.items():
            if not name.startswith(PREFIXES):
                raise ValueError(f"{path.name}: case {name!r} must start with one of {PREFIXES}")
            cases.append(RuleCase(rule_id, name, body or {}, path))
    return cases


def build_trace(body: dict[str, Any]) -> Trace:
    if "kineto" in body:  # a PyTorch profiler trace document, read by the real loader
        return _kineto_trace(body["kineto"])
    series = {entity: {metric: parse_values(v) for metric, v in metrics.items()}
              for entity, metrics in body.get("samples", {}).items()}
    trace = Trace.from_series(series, interval_s=float(body.get("interval_s", 1.0)),
                              events=body.get("events", ()))
    meta_spec = body.get("meta")
    if meta_spec:
        meta = trace.meta
        gpus = tuple(GpuInfo(**{"host": "node1", **g}) for g in meta_spec.get("gpus", ()))
        procs = tuple(ProcessInfo(**{"host": "node1",
                                     **{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in p.items()}})
                      for p in meta_spec.get("processes", ()))
        trace = Trace(trace.samples, TraceMeta(
            source=meta_spec.get("source", meta.source), interval_s=meta.interval_s,
            started=meta.started, ended=meta.ended, hosts=meta.hosts,
            gpus=gpus or meta.gpus, processes=procs), trace.events)
    return trace


def _kineto_trace(doc: dict[str, Any]) -> Trace:
    """`kineto: {traceEvents: [...]}`; GPU rows may be written as [name, stream, ts, end,
    correlation, launch_ts] for a kernel and its cudaLaunchKernel."""
    from profiler.pytorch.load import load_group

    events = []
    for e in doc.get("traceEvents", []):
        if isinstance(e, list):
            name, stream, ts, end, corr, launch = e
            events += [{"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": stream,
                        "ts": ts, "dur": end - ts,
                        "args": {"stream": stream, "correlation": corr, "device": 0}},
                       {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel",
                        "pid": 1, "tid": 1, "ts": launch, "dur": 1,
                        "args": {"correlation": corr}}]
        else:
            events.append(e)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rank0.json"
        path.write_text(json.dumps({**doc, "traceEvents": events}))
        return load_group([path])


def run_case(case: RuleCase):  # -> RuleOutcome
    trace = build_trace(case.body)
    settings = RuleSettings(overrides={case.rule: case.body.get("thresholds", {})})
    return run_rules(Features(trace), settings, rule_ids=[case.rule])


def within(value: float | None, expected: Any) -> bool:
    if expected is None:
        return value is None
    if value is None:
        return False
    if isinstance(expected, list):
        low, high = expected
        return float(low) <= value <= float(high)
    return abs(value - float(expected)) <= 1e-9 + 1e-6 * abs(float(expected))
