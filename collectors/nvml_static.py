"""What does not change while recording: GPU identity, limits, topology, and the driver versions.

Read once in open(). A query that fails leaves its field unknown (None) and its reason in
`Probe.reasons`; only a lost GPU (GpuIsLost / ResetRequired) raises, so the collector can mark it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from collectors.nvml_common import Policy, Verdict, error_name, scale
from collectors.nvml_fields import VALUE_MEMBERS

NODE_MASK_WORDS = 4  # 256 NUMA nodes in the memory-affinity query


@dataclass(slots=True)
class Probe:
    """One GPU's fixed facts in SI units; None = unknown (see `reasons`)."""

    name: str | None = None
    uuid: str | None = None
    bus_id: str | None = None
    arch: int | None = None
    arch_name: str | None = None
    mig: bool | None = None
    max_sm_clock: float | None = None
    pcie_gen_max: int | None = None
    pcie_width_max: int | None = None
    power_limit: float | None = None
    memory_total: float | None = None
    nvlink_count: int | None = None
    nvlink_version: int | None = None
    gpm: bool | None = None
    gpm_reason: str = ""
    numa_node: int | None = None
    cpu_affinity: tuple[int, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)


class Asker:
    """Calls an NVML function by name; on failure records the verdict and returns None."""

    def __init__(self, nv: ModuleType, policy: Policy, reasons: dict[str, str]) -> None:
        self.nv = nv
        self.policy = policy
        self.reasons = reasons
        self.verdicts: dict[str, Verdict] = {}

    def __call__(self, call: str, *args: Any) -> Any:
        try:
            return getattr(self.nv, call)(*args)
        except self.policy.errors as e:
            verdict, reason = self.policy.classify(e, call)
            if verdict is Verdict.LOST:
                raise
            self.reasons[call] = reason
            self.verdicts[call] = verdict
            return None


def arch_names(nv: ModuleType) -> dict[int, str]:
    prefix = "NVML_DEVICE_ARCH_"
    return {getattr(nv, n): n.removeprefix(prefix).lower() for n in dir(nv)
            if n.startswith(prefix)}


def probe(nv: ModuleType, policy: Policy, handle: Any, sysfs: Path, cpu_count: int) -> Probe:
    p = Probe()
    ask = Asker(nv, policy, p.reasons)
    p.name = ask("nvmlDeviceGetName", handle)
    p.uuid = ask("nvmlDeviceGetUUID", handle)
    pci = ask("nvmlDeviceGetPciInfo", handle)
    p.bus_id = pci.busId if pci is not None else None
    p.arch = ask("nvmlDeviceGetArchitecture", handle)
    p.arch_name = arch_names(nv).get(p.arch) if p.arch is not None else None
    mig = ask("nvmlDeviceGetMigMode", handle)
    if mig is not None:
        p.mig = mig[0] == nv.NVML_DEVICE_MIG_ENABLE
    elif ask.verdicts.get("nvmlDeviceGetMigMode") is Verdict.PERMANENT:
        p.mig = False  # not MIG-capable
    clock = ask("nvmlDeviceGetMaxClockInfo", handle, nv.NVML_CLOCK_SM)
    if clock is not None:
        p.max_sm_clock = clock * scale("nvmlDeviceGetMaxClockInfo(NVML_CLOCK_SM)")
    p.pcie_gen_max = ask("nvmlDeviceGetMaxPcieLinkGeneration", handle)
    p.pcie_width_max = ask("nvmlDeviceGetMaxPcieLinkWidth", handle)
    limit = ask("nvmlDeviceGetEnforcedPowerLimit", handle)
    if limit is not None:
        p.power_limit = limit * scale("nvmlDeviceGetEnforcedPowerLimit")
    memory = ask("nvmlDeviceGetMemoryInfo", handle)
    if memory is not None:
        p.memory_total = float(memory.total)
    p.nvlink_count = _nvlink_count(ask, handle)
    if p.nvlink_count:
        p.nvlink_version = ask("nvmlDeviceGetNvLinkVersion", handle, 0)
    _gpm_support(ask, handle, p)
    p.numa_node = _numa_node(ask, handle, p.bus_id, sysfs)
    words = max(1, math.ceil(cpu_count / 64))
    mask = ask("nvmlDeviceGetCpuAffinity", handle, words)
    if mask is not None:
        p.cpu_affinity = _bits(mask)
    return p


def _nvlink_count(ask: Asker, handle: Any) -> int | None:
    nv = ask.nv
    values = ask("nvmlDeviceGetFieldValues", handle, [nv.NVML_FI_DEV_NVLINK_LINK_COUNT])
    if values is not None and values[0].nvmlReturn == 0:
        v = values[0]
        count: int = getattr(v.value, VALUE_MEMBERS[v.valueType])
        return count
    count = 0
    for link in range(nv.NVML_NVLINK_MAX_LINKS):
        try:
            nv.nvmlDeviceGetNvLinkState(handle, link)
        except ask.policy.errors as e:
            verdict = ask.policy.classify(e, "nvmlDeviceGetNvLinkState")[0]
            if verdict is Verdict.LOST:
                raise
            if link == 0:
                ask.reasons["nvlink"] = f"nvmlDeviceGetNvLinkState: {error_name(e)}"
                return 0 if verdict is Verdict.PERMANENT else None
            break
        count += 1
    return count


def _gpm_support(ask: Asker, handle: Any, p: Probe) -> None:
    nv = ask.nv
    old = p.arch is not None and p.arch < nv.NVML_DEVICE_ARCH_HOPPER
    support = None if old else ask("nvmlGpmQueryDeviceSupport", handle)
    if support is not None and support.isSupportedDevice:
        p.gpm = True
        return
    p.gpm = False
    verdict = ask.verdicts.get("nvmlGpmQueryDeviceSupport")
    if verdict is not None and verdict is not Verdict.PERMANENT:
        p.gpm_reason = f"GPM unavailable: {ask.reasons['nvmlGpmQueryDeviceSupport']}"
    else:
        p.gpm_reason = (f"GPM needs Hopper or newer ({p.name or 'this GPU'}, "
                        f"{p.arch_name or 'unknown'} architecture)")


def sysfs_pci_name(bus_id: str) -> str:
    """NVML's "00000000:18:00.0" as sysfs names it: "0000:18:00.0" (4-digit domain, lower case)."""
    domain, rest = bus_id.split(":", 1)
    return f"{domain[-4:]}:{rest}".lower()


def _numa_node(ask: Asker, handle: Any, bus_id: str | None, sysfs: Path) -> int | None:
    if bus_id:
        try:
            text = (sysfs / "bus/pci/devices" / sysfs_pci_name(bus_id) / "numa_node").read_text()
            node = int(text.strip())
        except (OSError, ValueError):
            node = -1
        if node >= 0:
            return node
    nv = ask.nv
    mask = ask("nvmlDeviceGetMemoryAffinity", handle, NODE_MASK_WORDS, nv.NVML_AFFINITY_SCOPE_NODE)
    nodes = _bits(mask) if mask is not None else ()
    return nodes[0] if len(nodes) == 1 else None


def _bits(words: Any) -> tuple[int, ...]:
    """Set bits of an NVML affinity array (64 per unsigned 64-bit word) as numbers."""
    out: list[int] = []
    for i, word in enumerate(words):
        bit = 0
        word = int(word)
        while word:
            if word & 1:
                out.append(64 * i + bit)
            word >>= 1
            bit += 1
    return tuple(out)


def driver_versions(nv: ModuleType, errors: tuple[type[BaseException], ...]
                    ) -> tuple[str | None, str | None]:
    """(driver version, CUDA driver version as "13.1"); None where NVML does not say."""
    try:
        driver: str | None = nv.nvmlSystemGetDriverVersion()
    except errors:
        driver = None
    try:
        cuda = cuda_version(nv.nvmlSystemGetCudaDriverVersion())
    except errors:
        cuda = None
    return driver, cuda


def cuda_version(value: int | None) -> str | None:
    """NVML's major*1000 + minor*10 (13010) as "13.1"."""
    if value is None or value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"
