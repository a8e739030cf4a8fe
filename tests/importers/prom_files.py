"""A fleet of dcgm-exporter + node_exporter series, written as Prometheus would hold them.

Used by the importer tests, the real-Prometheus tests and bench/prometheus_fleet.py. Each node
scrapes both exporters on one address (different ports); the dcgm-exporter carries the host
name in `Hostname` (older exporters) or `hostname` (newer). Scenarios: a thermally throttled
GPU (clock-event reason 0x20, SM clock 1500 of 1980 MHz) and a swap storm (GPUs idle while the
host swaps, in alternating 5-minute phases).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    gpus: int = 2
    hot_gpu: int | None = None
    swap_storm: bool = False
    host_label: str = "Hostname"
    node_instance: str | None = None  # default: ADDRESS:9100
    new_names: bool = False  # DCGM_FI_DEV_CLOCKS_EVENT_REASONS instead of ..._THROTTLE_...


@dataclass
class Family:
    type: str  # gauge | counter | unknown
    series: dict[Labels, np.ndarray] = field(default_factory=dict)


def _swapping(t: np.ndarray) -> np.ndarray:
    return (t // 300) % 2 == 1  # every other 5-minute phase


def fleet(nodes: list[Node], t: np.ndarray, cpus: int = 4) -> dict[str, Family]:
    """Family name -> series; `t` are sample times in seconds (ascending)."""
    fam: dict[str, Family] = {}

    def put(name: str, kind: str, labels: dict[str, str], values: np.ndarray) -> None:
        fam.setdefault(name, Family(kind)).series[tuple(labels.items())] = values

    rel = t - t[0]
    for node in nodes:
        swap = _swapping(rel) if node.swap_storm else np.zeros(len(t), dtype=bool)
        for g in range(node.gpus):
            lab = {"gpu": str(g), "UUID": f"GPU-{node.address}-{g}",
                   "pci_bus_id": f"00000000:{0x18 + g:02X}:00.0", "device": f"nvidia{g}",
                   "modelName": "NVIDIA H100 80GB HBM3", node.host_label: node.name,
                   "DCGM_FI_DRIVER_VERSION": "570.124.06",
                   "instance": f"{node.address}:9400", "job": "dcgm"}
            hot = g == node.hot_gpu
            util = np.where(swap, 8.0, 97.0) + (g % 3)
            put("DCGM_FI_DEV_GPU_UTIL", "gauge", lab, util)
            put("DCGM_FI_DEV_SM_CLOCK", "gauge", lab, np.full(len(t), 1500.0 if hot else 1980.0))
            put("DCGM_FI_DEV_MAX_SM_CLOCK", "gauge", lab, np.full(len(t), 1980.0))
            power = np.where(swap, 120.0, 650.0 - 90 * hot)
            put("DCGM_FI_DEV_POWER_USAGE", "gauge", lab, power)
            put("DCGM_FI_DEV_GPU_TEMP", "gauge", lab, np.full(len(t), 88.0 if hot else 62.0))
            put("DCGM_FI_DEV_FB_USED", "gauge", lab, np.full(len(t), 60000.0))
            put("DCGM_FI_DEV_FB_FREE", "gauge", lab, np.full(len(t), 21000.0))
            reasons = ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS" if node.new_names
                       else "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")
            put(reasons, "gauge", lab, np.full(len(t), 32.0 if hot else 0.0))
            put("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", lab, util / 100.0)
            put("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", lab, np.full(len(t), 0.45))
            put("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", lab, np.full(len(t), 0.35))
            put("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", lab,
                np.cumsum(np.r_[0.0, np.diff(t) * power[1:] * 1000.0]))
        inst = {"instance": node.node_instance or f"{node.address}:9100", "job": "node"}
        for c in range(cpus):
            for mode, share in (("user", np.where(swap, 0.2, 0.3)), ("system", 0.05),
                                ("iowait", np.where(swap, 0.3, 0.01))):
                busy = np.broadcast_to(np.asarray(share, dtype="float64"), t.shape)
                put("node_cpu_seconds_total", "counter", {"cpu": str(c), "mode": mode, **inst},
                    1e6 + np.cumsum(np.r_[0.0, np.diff(t)] * busy))
            put("node_cpu_seconds_total", "counter", {"cpu": str(c), "mode": "idle", **inst},
                1e6 + np.cumsum(np.r_[0.0, np.diff(t)] * 0.5))
        pages = np.cumsum(np.r_[0.0, np.diff(t)] * np.where(swap, 20_000.0, 0.0))
        put("node_vmstat_pswpin", "unknown", inst, 1000.0 + pages)
        put("node_vmstat_pswpout", "unknown", inst, 1000.0 + pages)
        put("node_memory_MemTotal_bytes", "gauge", inst, np.full(len(t), 512e9))
        put("node_memory_MemAvailable_bytes", "gauge", inst, np.where(swap, 2e9, 300e9))
        put("node_memory_SwapTotal_bytes", "gauge", inst, np.full(len(t), 8e9))
        put("node_memory_SwapFree_bytes", "gauge", inst, np.where(swap, 2e9, 7e9))
        put("node_uname_info", "gauge", {"nodename": node.name, **inst}, np.ones(len(t)))
    return fam


def _labels(labels: Labels) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
    return ",".join(f'{k}="{esc(v)}"' for k, v in labels)


def openmetrics_lines(fam: dict[str, Family], t: np.ndarray) -> Iterator[str]:
    """OpenMetrics for `promtool tsdb create-blocks-from openmetrics` (seconds, # EOF)."""
    stamps = [f"{x:.3f}".rstrip("0").rstrip(".") for x in t]
    for name, f in fam.items():
        family = name.removesuffix("_total") if f.type == "counter" else name
        yield f"# HELP {family} {family}.\n# TYPE {family} {f.type}\n"
        sample = family + "_total" if f.type == "counter" else name
        for labels, values in f.series.items():
            head = f"{sample}{{{_labels(labels)}}} "
            yield "".join(f"{head}{v:.17g} {s}\n" for v, s in zip(values, stamps, strict=True))
    yield "# EOF\n"


def text_scrapes(fam: dict[str, Family], t: np.ndarray, timestamps: bool = True) -> Iterator[str]:
    """Concatenated `/metrics` scrapes in text format 0.0.4 (timestamps in milliseconds)."""
    for i, x in enumerate(t):
        stamp = f" {round(float(x) * 1000)}" if timestamps else ""
        for name, f in fam.items():
            kind = "untyped" if f.type == "unknown" else f.type
            yield f"# HELP {name} {name}.\n# TYPE {name} {kind}\n"
            for labels, values in f.series.items():
                yield f"{name}{{{_labels(labels)}}} {values[i]:.17g}{stamp}\n"


def query_range_json(fam: dict[str, Family], t: np.ndarray) -> str:
    """One /api/v1/query_range answer holding every series (values are strings)."""
    result = []
    for name, f in fam.items():
        for labels, values in f.series.items():
            result.append({"metric": {"__name__": name, **dict(labels)},
                           "values": [[float(x), f"{v:.17g}"] for x, v in zip(t, values,
                                                                              strict=True)]})
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})


def write(path: Path, chunks: Iterator[str] | str, compress: bool = False) -> Path:
    text = chunks if isinstance(chunks, str) else "".join(chunks)
    if compress:
        path.write_bytes(gzip.compress(text.encode(), 6))
    else:
        path.write_text(text)
    return path


FLEET = [
    Node("node-a", "10.0.0.1"),
    Node("node-b", "10.0.0.2", hot_gpu=1, host_label="hostname", new_names=True,
         node_instance="node-b:9100"),
    Node("node-c", "10.0.0.3", swap_storm=True),
]
