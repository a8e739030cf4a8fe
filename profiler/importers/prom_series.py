"""Prometheus series (dcgm-exporter, node_exporter) -> a Trace of one or many hosts.

Shared by the text/OpenMetrics and query-JSON file importers and the live client. Host names
come from the data: dcgm-exporter's `Hostname`/`hostname` label, a `node`/`kubernetes_node`
label, node_uname_info's `nodename`, else `instance` without its port. A dcgm-exporter and a
node_exporter of one machine scrape on different ports, so their `instance`s differ; both are
joined into one host through the address they share (or node_uname_info).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from profiler.catalog import OutsideName, Source, outside_names
from profiler.importers.assemble import Part, assemble
from profiler.importers.derive import INPUTS as DERIVE_INPUTS
from profiler.importers.derive import cpu_parts, swap_parts
from profiler.importers.meta import absences, build_meta
from profiler.trace import GpuInfo, HostInfo, Trace

HOST_LABELS = ("hostname", "Hostname", "node", "kubernetes_node", "exported_node", "nodename")
UNAME = "node_uname_info"
TABLES: dict[Source, dict[str, list[OutsideName]]] = {
    "dcgm": outside_names("dcgm"), "node_exporter": outside_names("node_exporter")}
_PORT = re.compile(r"^(\[[^\]]*\]|[^:]+)(:\d+)?$")


@dataclass(frozen=True, slots=True)
class RawSeries:
    """One Prometheus series: name, labels, times (float s since the epoch) and values.

    `is_rate` marks a counter the server already turned into a per-second rate.
    """

    name: str
    labels: Mapping[str, str]
    ts: np.ndarray
    values: np.ndarray
    is_rate: bool = False


# dcgm-exporter --use-old-namespace (1.x names): `dcgm_` + the field name after DCGM_FI_DEV_
# (or the whole field name for PROF fields), lower case; two utilization names differ.
OLD_NAMESPACE = {"dcgm_gpu_utilization": "DCGM_FI_DEV_GPU_UTIL",
                 "dcgm_mem_copy_utilization": "DCGM_FI_DEV_MEM_COPY_UTIL"}


def canonical_name(name: str) -> str:
    """The dcgm-exporter field name of an old-namespace metric; other names unchanged."""
    if not name.startswith("dcgm_"):
        return name
    if name in OLD_NAMESPACE:
        return OLD_NAMESPACE[name]
    upper = name.upper()
    if upper.startswith("DCGM_FI_"):
        return upper
    return "DCGM_FI_DEV_" + upper.removeprefix("DCGM_")


def resolve(name: str, labels: Mapping[str, str],
            extra: Mapping[str, list[OutsideName]] | None = None
            ) -> tuple[Source, list[OutsideName]] | None:
    """The catalog entries a series maps to (label restrictions applied), or None."""
    if extra and name in extra:
        return extra[name][0].source, extra[name]
    name = canonical_name(name)
    for source, table in TABLES.items():
        entries = table.get(name) or table.get(name.removesuffix("_total"))
        if entries:
            hits = [e for e in entries if all(labels.get(k) == v for k, v in e.labels)]
            return (source, hits) if hits else None
    return None


def wanted(name: str) -> bool:
    """Whether a series of this name is worth keeping while parsing."""
    if name == UNAME or name in DERIVE_INPUTS:
        return True
    name = canonical_name(name)
    base = name.removesuffix("_total")
    return any(name in t or base in t for t in TABLES.values())


def instance_host(labels: Mapping[str, str]) -> str | None:
    inst = labels.get("instance")
    if not inst:
        return None
    m = _PORT.match(inst)
    return (m.group(1).strip("[]") if m else inst) or None


def explicit_host(labels: Mapping[str, str]) -> str | None:
    return next((labels[k] for k in HOST_LABELS if labels.get(k)), None)


class HostNames:
    """Decides each series' host, joining exporters of one machine."""

    def __init__(self, series: Iterable[Mapping[str, str]], default: str) -> None:
        self.default = default
        self.alias: dict[str, str] = {}
        self.names: set[str] = set()
        for labels in series:
            named, addr = explicit_host(labels), instance_host(labels)
            if named:
                self.names.add(named)
                if addr:
                    self.alias.setdefault(addr, named)

    def __call__(self, labels: Mapping[str, str]) -> str:
        named = explicit_host(labels)
        if named:
            return named
        addr = instance_host(labels)
        if addr is None:
            return self.default
        if addr in self.alias:
            return self.alias[addr]
        short = addr.split(".", 1)[0]
        return short if short in self.names and not addr.replace(".", "").isdigit() else addr


def _entity(source: Source, outside: OutsideName, labels: Mapping[str, str]) -> str | None:
    if source == "dcgm":  # the old namespace also names the label `gpu`
        gpu = labels.get("gpu")
        if gpu is None or not gpu.isdigit() or labels.get("GPU_I_ID"):
            return None  # MIG instances are not GPUs
        return f"gpu{gpu}"
    if outside.entity_labels:
        values = [labels.get(k) for k in outside.entity_labels]
        return ":".join(v for v in values if v) or None
    return "host"


def series_to_trace(series: Sequence[RawSeries], *, source: str, label: str,
                    default_host: str, labels: dict[str, str] | None = None,
                    extra: Mapping[str, list[OutsideName]] | None = None,
                    derive: bool = True) -> Trace:
    """Map every known series onto the catalog and assemble one Trace.

    `derive` computes the per-core CPU and swap-used metrics from raw per-CPU series (files;
    a live pull asks Prometheus for them instead)."""
    hosts = HostNames((s.labels for s in series), default_host)
    parts: list[Part] = []
    gpus: dict[tuple[str, str], GpuInfo] = {}
    drivers: dict[str, str] = {}
    used: set[Source] = set()
    for s in series:
        hit = resolve(s.name, s.labels, extra)
        if hit is None:
            continue
        src, entries = hit
        host = hosts(s.labels)
        ts_ns = np.round(np.asarray(s.ts, dtype="float64") * 1e9).astype("int64")
        for outside in entries:
            entity = _entity(src, outside, s.labels)
            if entity is None:
                continue
            used.add(src)
            sub = s.labels.get("cpu", "") if outside.aggregate else ""
            parts.append(Part(host, entity, outside, ts_ns, s.values, sub=sub,
                              is_rate=s.is_rate))
            if src == "dcgm" and (host, entity) not in gpus:
                gpus[(host, entity)] = _gpu_info(host, entity, s.labels)
        driver = s.labels.get("DCGM_FI_DRIVER_VERSION")
        if driver:
            drivers.setdefault(host, driver)
    if derive:
        raw = [(s.name, s.labels, np.round(np.asarray(s.ts, dtype="float64") * 1e9).astype(
            "int64"), s.values) for s in series if s.name in DERIVE_INPUTS]
        parts.extend(cpu_parts(raw, hosts))
        parts.extend(swap_parts(raw, hosts))
    samples = assemble(parts)
    host_info = [HostInfo(h, driver_version=d) for h, d in drivers.items()]
    sources: list[Source] = ["dcgm", "node_exporter"]
    meta = build_meta(samples, source=source, gpus=gpus.values(), hosts=host_info,
                      unavailable=absences(samples, sources, label,
                                           host_data="node_exporter" in used),
                      labels=labels or {})
    return Trace(samples, meta)


def _gpu_info(host: str, entity: str, labels: Mapping[str, str]) -> GpuInfo:
    """Identity from dcgm-exporter labels (UUID, or uuid under the old namespace)."""
    return GpuInfo(host, entity, int(entity.removeprefix("gpu")),
                   name=labels.get("modelName") or labels.get("model_name"),
                   uuid=labels.get("UUID") or labels.get("uuid"),
                   bus_id=labels.get("pci_bus_id"))
