"""Metadata and "not checked" reasons for imported traces."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from profiler.catalog import METRICS, OUTSIDE_NAMES, Source
from profiler.trace import Absence, GpuInfo, HostInfo, TraceMeta, infer_interval

HOST_KINDS = ("host", "cpu", "disk", "nic", "link")
HOST_PATTERNS = ("host.*", "cpu.*", "disk.*", "nic.*", "ib.*")


def absences(samples: pd.DataFrame, sources: Sequence[Source], label: str,
             *, host_data: bool) -> tuple[Absence, ...]:
    """Why each canonical metric is missing from an import of `label` (a format name).

    A metric the sources can carry but the data lacks says which outside names were looked for;
    one no source can carry says the format does not report it.
    """
    present = set(samples["metric"].astype(str).unique()) if not samples.empty else set()
    possible: dict[str, list[str]] = {}
    for source in sources:
        for o in OUTSIDE_NAMES.get(source, ()):
            possible.setdefault(o.metric, [])
            if o.name not in possible[o.metric]:
                possible[o.metric].append(o.name)
    out: list[Absence] = []
    for name, m in METRICS.items():
        if name in present:
            continue
        if m.kind in HOST_KINDS and not host_data:
            continue
        if name in possible:
            names = ", ".join(possible[name][:3])
            out.append(Absence(name, f"{label} holds no {names}", collector=label))
        else:
            out.append(Absence(name, f"{label} does not report it", collector=label))
    if not host_data:
        out.extend(Absence(p, f"{label} has no host metrics (CPU, memory, disks, network)",
                           collector=label) for p in HOST_PATTERNS)
    return tuple(out)


def build_meta(samples: pd.DataFrame, *, source: str, gpus: Iterable[GpuInfo] = (),
               hosts: Iterable[HostInfo] = (), unavailable: tuple[Absence, ...] = (),
               labels: dict[str, str] | None = None) -> TraceMeta:
    """TraceMeta of an import: hosts and GPUs from the data, interval from the sample times."""
    host_names = sorted(str(h) for h in samples["host"].unique()) if not samples.empty else []
    known_hosts = {h.name: h for h in hosts}
    gpu_list = {(g.host, g.entity): g for g in gpus}
    if not samples.empty:
        keys = samples.loc[samples["metric"].astype(str).str.startswith("gpu."),
                           ["host", "entity"]].drop_duplicates()
        for h, e in zip(keys["host"].astype(str), keys["entity"].astype(str), strict=True):
            if (h, e) not in gpu_list:
                digits = e.removeprefix("gpu")
                gpu_list[(h, e)] = GpuInfo(h, e, int(digits) if digits.isdigit() else -1)
    return TraceMeta(
        source=source,
        interval_s=None if samples.empty else infer_interval(samples),
        started=None if samples.empty else samples["ts"].min().isoformat(),
        ended=None if samples.empty else samples["ts"].max().isoformat(),
        hosts=tuple(known_hosts.get(h, HostInfo(h)) for h in host_names),
        gpus=tuple(gpu_list[k] for k in sorted(gpu_list) if k[0] in host_names),
        unavailable=unavailable,
        labels=labels or {},
    )
