"""Compute processes on each GPU, and where the kernel lets them run (for NUMA placement).

NVML reports PIDs in the host PID namespace (nvml.md section 3.15). Inside a container the same
number may be absent from /proc or be another process, so placement is read only when /proc's
process matches the name NVML gives; otherwise cpus/mems stay empty rather than wrong.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from collectors.base import SampleBuffer
from collectors.nvml_common import Reader, scale
from profiler.trace import ProcessInfo

COUNT = "len(nvmlDeviceGetComputeRunningProcesses)"


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """ "0-3,8,10-11" (a kernel list format) -> (0, 1, 2, 3, 8, 10, 11); bad text -> ()."""
    out: list[int] = []
    try:
        for part in text.strip().split(","):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        return ()
    return tuple(out)


def placement(proc: Path, pid: int, nvml_name: str | None
              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(Cpus_allowed_list, Mems_allowed_list) of `pid`, or empty when it is not ours to see."""
    base = proc / str(pid)
    try:
        status = (base / "status").read_text()
    except OSError:
        return (), ()
    if nvml_name and not _same_program(base, nvml_name):
        return (), ()
    cpus: tuple[int, ...] = ()
    mems: tuple[int, ...] = ()
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == "Cpus_allowed_list":
            cpus = parse_cpu_list(value)
        elif key == "Mems_allowed_list":
            mems = parse_cpu_list(value)
    return cpus, mems


def _same_program(base: Path, nvml_name: str) -> bool:
    """Does /proc/<pid> run the program NVML names? (comm, argv[0] or exe, by base name)."""
    want = os.path.basename(nvml_name)
    seen: list[str] = []
    with contextlib.suppress(OSError):
        seen.append((base / "comm").read_text().strip())
    with contextlib.suppress(OSError, UnicodeDecodeError):
        seen.append(os.path.basename((base / "cmdline").read_bytes().split(b"\0")[0].decode()))
    with contextlib.suppress(OSError):
        seen.append(os.path.basename(os.readlink(base / "exe")))
    return not seen or any(name and (name == want or want.startswith(name)) for name in seen)


class ProcessTable:
    """Every compute process seen during the run, by (GPU, pid), with its latest memory."""

    def __init__(self, nv: ModuleType, host: str, proc: Path,
                 errors: tuple[type[BaseException], ...]) -> None:
        self._nv = nv
        self._host = host
        self._proc = proc
        self._errors = errors
        self._seen: dict[tuple[str, int], ProcessInfo] = {}
        self._known: dict[int, tuple[str | None, tuple[int, ...], tuple[int, ...]]] = {}

    def reader(self, handle: Any, entity: str) -> Reader:
        get = self._nv.nvmlDeviceGetComputeRunningProcesses
        factor = scale(COUNT)

        def read(buf: SampleBuffer) -> None:
            procs = get(handle)
            buf.add(entity, "gpu.process_count", len(procs) * factor)
            for p in procs:
                self._update(entity, int(p.pid), p.usedGpuMemory)

        return read

    def _update(self, entity: str, pid: int, used: int | None) -> None:
        known = self._known.get(pid)
        if known is None:
            name = self._name(pid)
            known = self._known[pid] = (name, *placement(self._proc, pid, name))
        name, cpus, mems = known
        memory = float(used) if used is not None else None
        self._seen[(entity, pid)] = ProcessInfo(self._host, entity, pid, name, memory, cpus, mems)

    def _name(self, pid: int) -> str | None:
        try:
            name: str = self._nv.nvmlSystemGetProcessName(pid)
        except self._errors:
            return None
        return name or None

    def processes(self) -> list[ProcessInfo]:
        return list(self._seen.values())
