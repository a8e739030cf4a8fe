"""Link capacities and utilisation: PCIe, NVLink, InfiniBand and Ethernet (not a rule module).

Every utilisation is traffic per direction over the link's per-direction line rate, so 1.0 is
physically impossible to exceed; protocol overhead keeps real traffic well below it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiler.catalog import pcie_bandwidth
from profiler.engine import Threshold
from profiler.features import Features, host_of
from profiler.trace import GpuInfo

PCIE_BUSY = Threshold(
    0.60, unit="ratio", bounds=(0.0, 1.0),
    source="physics: PCIe moves payload in TLPs with 20-26 B of framing each (openucx/ucx#6416) "
           "plus flow-control DLLPs, so NCCL models a Gen4 lane at 12 of its 15.75 Gb/s (0.76, "
           "NVIDIA/nccl#1206) and measured Gen4 x16 peaks are ~25 of 31.5 GB/s "
           "(ZaidQureshi/bam#54); 0.6 of line rate is ~80 % of what the link can carry")
NVLINK_BUSY = Threshold(
    0.60, unit="ratio", bounds=(0.0, 1.0),
    source="physics: NVLink protocol overhead is ~20 %, so NCCL reaches ~0.8 of line rate "
           "(NCCL maintainer, NVIDIA/nccl-tests#212: 370 of 450 GB/s on H100); 0.6 of line rate "
           "is 75 % of what NCCL can drive, averaged over a bin that also holds compute")
NET_BUSY = Threshold(
    0.80, unit="ratio", bounds=(0.0, 1.0),
    source="samber/awesome-prometheus-alerts HostNetworkInterfaceSaturated: traffic / "
           "link speed > 0.8; RDMA (ib.*) reaches >90 % of line rate, so 0.8 is near its limit")

# NVLink per link and direction, bytes/s, by NVLink generation: NVIDIA V100/A100/H100/B200
# datasheets (300, 600, 900, 1800 GB/s total over 6, 12, 18, 18 links, both directions).
NVLINK_LINK_BYTES_PER_S = {2: 25e9, 3: 25e9, 4: 25e9, 5: 50e9}
# Model name fragment -> (NVLink generation, links) for SXM parts when the metadata lacks them.
NVLINK_BY_MODEL: tuple[tuple[str, int, int], ...] = (
    ("GB200", 5, 18), ("B200", 5, 18), ("B100", 5, 18), ("GH200", 4, 18), ("H200", 4, 18),
    ("H800", 4, 8), ("H100", 4, 18), ("A800", 3, 8), ("A100", 3, 12), ("V100", 2, 6),
)


def _meta_gpu(f: Features, label: str) -> GpuInfo | None:
    host, _, entity = label.partition("/")
    return f.trace.meta.gpu(host, entity)


def pcie_capacity(f: Features) -> pd.Series:
    """Per GPU: per-direction bandwidth of the trained link (the fastest gen x width it reached
    in the window, else its maximum from metrics or metadata); NaN when unknown."""
    out = {}
    gen, width = f.wide("gpu.pcie_gen").max(), f.wide("gpu.pcie_width").max()
    gen_max, width_max = f.wide("gpu.pcie_gen_max").max(), f.wide("gpu.pcie_width_max").max()
    for gpu in f.gpus:
        info = _meta_gpu(f, gpu)
        g = next((float(v) for v in (gen.get(gpu), gen_max.get(gpu),
                                     info.pcie_max_gen if info else None)
                  if v is not None and v == v), float("nan"))
        w = next((float(v) for v in (width.get(gpu), width_max.get(gpu),
                                     info.pcie_max_width if info else None)
                  if v is not None and v == v), float("nan"))
        out[gpu] = pcie_bandwidth(g, w)
    return pd.Series(out, dtype="float64")


def _directional(f: Features, tx: str, rx: str) -> pd.DataFrame:
    """The busier direction per bin (max of tx and rx, either may be missing)."""
    a, b = f.wide(tx), f.wide(rx)
    if a.empty:
        return b
    if b.empty:
        return a
    cols = a.columns.union(b.columns)
    return np.fmax(a.reindex(columns=cols), b.reindex(columns=cols))


def pcie_util(f: Features) -> pd.DataFrame:
    """bins x GPUs: PCIe traffic in the busier direction over the trained link's bandwidth."""
    traffic = _directional(f, "gpu.pcie_tx", "gpu.pcie_rx").reindex(columns=f.gpus)
    capacity = pcie_capacity(f).reindex(traffic.columns)
    return traffic / capacity.where(capacity > 0)


def nvlink_capacity(f: Features) -> pd.Series:
    """Per GPU: NVLink bytes/s per direction over all links; NaN when unknown."""
    out = {}
    for gpu in f.gpus:
        info = _meta_gpu(f, gpu)
        version, links = (info.nvlink_version, info.nvlink_count) if info else (None, None)
        name = (info.name or "") if info else ""
        guess = next(((v, n) for frag, v, n in NVLINK_BY_MODEL
                      if frag in name and "PCIe" not in name), (None, None))
        version = version or guess[0]
        links = links if links is not None else guess[1]
        per_link = NVLINK_LINK_BYTES_PER_S.get(int(version)) if version else None
        out[gpu] = per_link * links if per_link and links else float("nan")
    return pd.Series(out, dtype="float64")


def nvlink_util(f: Features) -> pd.DataFrame:
    """bins x GPUs: NVLink traffic in the busier direction over the per-direction capacity."""
    capacity = nvlink_capacity(f)
    capacity = capacity.where(capacity > 0)
    directional = _directional(f, "gpu.nvlink_tx", "gpu.nvlink_rx")
    total = f.wide("gpu.nvlink_total")
    if not total.empty:
        half = total / 2.0  # a sum of both directions: its mean direction
        directional = half if directional.empty else directional.combine_first(half)
    directional = directional.reindex(columns=f.gpus)
    return directional / capacity.reindex(directional.columns)


def network_util(f: Features) -> pd.DataFrame:
    """bins x links: InfiniBand ports and NICs, busier direction over the line rate."""
    frames = []
    for tx, rx, rate in (("ib.tx", "ib.rx", "ib.rate"), ("nic.tx", "nic.rx", "nic.speed")):
        traffic = _directional(f, tx, rx)
        line = f.wide(rate).ffill().bfill()
        if traffic.empty or line.empty:
            continue
        cols = traffic.columns.intersection(line.columns)
        frames.append(traffic[cols] / line[cols].where(line[cols] > 0))
    return pd.concat(frames, axis=1) if frames else pd.DataFrame(index=f.index, dtype="float64")


def links_of_host(frame: pd.DataFrame, host: str) -> list[str]:
    return [c for c in frame.columns if host_of(c) == host]
