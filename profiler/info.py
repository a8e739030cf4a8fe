"""`profiler info`: what a trace holds, what it lacks and why, and what recording it cost."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from profiler.catalog import METRICS
from profiler.reports import shaping
from profiler.trace import Trace

EVENTS_SHOWN = 10


def summarize(trace: Trace) -> dict[str, Any]:
    """A plain dict of facts about the trace (also the `--format json` document)."""
    meta = trace.meta
    samples = trace.samples
    per_metric = (samples.groupby("metric", observed=True)
                  .agg(entities=("entity", "nunique"), samples=("value", "size"))
                  if not samples.empty else None)
    metrics = ([] if per_metric is None else
               [{"metric": str(name), "unit": METRICS[str(name)].unit if str(name) in METRICS
                 else "?", "entities": int(row_entities), "samples": int(row_samples)}
                for name, row_entities, row_samples in zip(
                    per_metric.index, per_metric["entities"], per_metric["samples"],
                    strict=True)])
    events = trace.events
    return {
        "source": meta.source,
        "format_version": meta.format_version,
        "tool_version": meta.tool_version,
        "complete": meta.complete,
        "window": {"start": None if trace.start is None else trace.start.isoformat(),
                   "end": None if trace.end is None else trace.end.isoformat(),
                   "duration_s": trace.duration_s},
        "interval_s": meta.interval_s,
        "samples": trace.tick_count,
        "rows": len(samples),
        "hosts": [dataclasses.asdict(h) for h in meta.hosts] or
                 [{"name": h} for h in trace.hosts],
        "gpus": [dataclasses.asdict(g) for g in meta.gpus],
        "metrics": metrics,
        "unavailable": [dataclasses.asdict(a) for a in meta.unavailable],
        "events": {
            "count": len(events),
            "by_kind": dict(Counter(str(k) for k in events["kind"])) if len(events) else {},
            "first": [{"ts": ts.isoformat(), "host": h, "entity": e, "kind": k,
                       "code": None if c is None or c != c else int(c), "message": m}
                      for ts, h, e, k, c, m in zip(*(events[col].head(EVENTS_SHOWN).tolist()
                                                     for col in events.columns), strict=True)],
        },
        "overhead": None if meta.overhead is None else {
            **dataclasses.asdict(meta.overhead), "cpu_percent": meta.overhead.cpu_percent},
        "processes": [dataclasses.asdict(p) for p in meta.processes],
    }


def render_text(info: dict[str, Any], path: str) -> str:
    lines = [f"Trace {path}"]
    state = "complete" if info["complete"] else "INCOMPLETE (recorder stopped before finalizing)"
    lines.append(f"  source {info['source']}, format {info['format_version']}, written by "
                 f"profiler {info['tool_version']}, {state}")
    window = info["window"]
    every = f" every {shaping.value(info['interval_s'], 's')}" if info["interval_s"] else ""
    lines.append(f"  {window['start'] or '-'} .. {window['end'] or '-'} "
                 f"({shaping.duration(window['duration_s'])}), {info['samples']} samples{every}, "
                 f"{info['rows']} rows")
    lines.append("")
    lines.append(f"Hosts ({len(info['hosts'])}):")
    for host in info["hosts"]:
        facts = [f"{host['cpu_count']} CPUs" if host.get("cpu_count") else "",
                 (shaping.value(host["mem_total"], "bytes") + " RAM"
                  if host.get("mem_total") else ""),
                 f"kernel {host['kernel']}" if host.get("kernel") else "",
                 f"driver {host['driver_version']}" if host.get("driver_version") else ""]
        lines.append(f"  {host['name']}: " + (", ".join(f for f in facts if f) or "no details"))
    lines.append(f"GPUs ({len(info['gpus'])}):")
    for gpu in info["gpus"]:
        lines.append("  " + _gpu_line(gpu))
    lines.append("")
    lines.append(f"Metrics present ({len(info['metrics'])}):")
    for m in info["metrics"]:
        lines.append(f"  {m['metric']:<32} {m['unit']:<10} {m['entities']:>4} entities "
                     f"{m['samples']:>9} samples")
    lines.append("")
    if info["unavailable"]:
        lines.append(f"Unavailable ({len(info['unavailable'])}):")
        for a in info["unavailable"]:
            where = "/".join(x for x in (a.get("host"), a.get("entity")) if x)
            lines.append(f"  {a['what']}{' on ' + where if where else ''}: {a['reason']}")
    else:
        lines.append("Unavailable: nothing recorded as missing")
    lines.append("")
    events = info["events"]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(events["by_kind"].items()))
    lines.append(f"Events: {events['count']}" + (f" ({kinds})" if kinds else ""))
    for e in events["first"]:
        code = f" {e['code']}" if e["code"] is not None else ""
        lines.append(f"  {e['ts']} {e['host']}/{e['entity']} {e['kind']}{code}: {e['message']}")
    overhead = info["overhead"]
    if overhead:
        lines.append("")
        lines.append(f"Recorder overhead: {overhead['cpu_percent']:.2f} % of one core "
                     f"({overhead['cpu_seconds']:.3f} s CPU over "
                     f"{overhead['wall_seconds']:.1f} s, {overhead['ticks']} ticks)")
    return "\n".join(lines) + "\n"


def _gpu_line(gpu: dict[str, Any]) -> str:
    facts = [
        gpu.get("name") or "unknown model",
        gpu.get("uuid") or "",
        f"bus {gpu['bus_id']}" if gpu.get("bus_id") else "",
        f"NUMA {gpu['numa_node']}" if gpu.get("numa_node") is not None else "",
        (f"PCIe Gen{gpu['pcie_max_gen']} x{gpu['pcie_max_width']} max"
         if gpu.get("pcie_max_gen") else ""),
        f"{gpu['nvlink_count']} NVLinks" if gpu.get("nvlink_count") else "",
        shaping.value(gpu["memory_total"], "bytes") if gpu.get("memory_total") else "",
        f"{gpu['power_limit']:.0f} W limit" if gpu.get("power_limit") else "",
        f"max SM {gpu['max_sm_clock'] / 1e6:.0f} MHz" if gpu.get("max_sm_clock") else "",
    ]
    return f"{gpu['host']}/{gpu['entity']}: " + ", ".join(f for f in facts if f)
