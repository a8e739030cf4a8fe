"""Metadata and "not checked" reasons for imported traces."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from profiler.catalog import METRICS, OUTSIDE_NAMES, Source
from profiler.trace import Absence, GpuInfo, HostInfo, TraceMeta, infer_interval


def observed(samples: pd.DataFrame, column: str) -> set[str]:
    """The distinct values of a categorical column (assembled frames have no unused ones)."""
    if samples.empty:
        return set()
    col = samples[column]
    used = np.unique(col.cat.codes.to_numpy())
    return {str(c) for c in col.cat.categories[used[used >= 0]]}


def _interval(samples: pd.DataFrame) -> float | None:
    """The median sample spacing of the longest series (cheaper than over every row)."""
    codes = [samples[c].cat.codes.to_numpy().astype("int64") for c in ("host", "entity",
                                                                        "metric")]
    key = (codes[0] * (codes[1].max() + 1) + codes[1]) * (codes[2].max() + 1) + codes[2]
    return infer_interval(samples.loc[key == np.argmax(np.bincount(key))])

HOST_KINDS = ("host", "cpu", "disk", "nic", "link")
HOST_PATTERNS = ("host.*", "cpu.*", "disk.*", "nic.*", "ib.*")


def absences(samples: pd.DataFrame, sources: Sequence[Source], label: str,
             *, host_data: bool, noun: str = "series") -> tuple[Absence, ...]:
    """Why each canonical metric is missing from an import of `label` (a format name).

    A metric the sources can carry but the data lacks says which outside names were looked for;
    one no source can carry says the format does not report it.
    """
    present = observed(samples, "metric")
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
            out.append(Absence(name, f"{label} has no {noun} {names}", collector=label))
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
    host_names = sorted(observed(samples, "host"))
    known_hosts = {h.name: h for h in hosts}
    gpu_list = {(g.host, g.entity): g for g in gpus}
    if not samples.empty:
        metric = samples["metric"].cat
        is_gpu = np.array([str(c).startswith("gpu.") for c in metric.categories], dtype=bool)
        rows = is_gpu[metric.codes.to_numpy()]
        hosts_cat, entities_cat = samples["host"].cat.categories, samples["entity"].cat.categories
        key = (samples["host"].cat.codes.to_numpy()[rows].astype("int64") * len(entities_cat)
               + samples["entity"].cat.codes.to_numpy()[rows])
        seen = np.flatnonzero(np.bincount(key, minlength=len(hosts_cat) * len(entities_cat)))
        for h, e in zip(hosts_cat[seen // len(entities_cat)].astype(str),
                        entities_cat[seen % len(entities_cat)].astype(str), strict=True):
            if (h, e) not in gpu_list:
                digits = e.removeprefix("gpu")
                gpu_list[(h, e)] = GpuInfo(h, e, int(digits) if digits.isdigit() else -1)
    return TraceMeta(
        source=source,
        interval_s=None if samples.empty else _interval(samples),
        started=None if samples.empty else samples["ts"].min().isoformat(),
        ended=None if samples.empty else samples["ts"].max().isoformat(),
        hosts=tuple(known_hosts.get(h, HostInfo(h)) for h in host_names),
        gpus=tuple(gpu_list[k] for k in sorted(gpu_list) if k[0] in host_names),
        unavailable=unavailable,
        labels=labels or {},
    )
