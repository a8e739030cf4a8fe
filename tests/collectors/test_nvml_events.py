"""XID/ECC events from the event-set thread, and compute processes with their CPU placement."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pynvml
import pytest

from collectors.nvml import NvmlCollector
from collectors.nvml_procs import parse_cpu_list
from tests.collectors.nvml_helpers import Run
from tests.fake_pynvml import FakeNvml, fake_nvml

__all__ = ["fake_nvml"]

MakeFake = Callable[..., FakeNvml]


def _tick_until_event(run: Run, kind: str, timeout_s: float = 5.0) -> pd.DataFrame:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run.tick()
        events = run.event_frame()
        if not events.empty and (events["kind"] == kind).any():
            return events[events["kind"] == kind]
        time.sleep(0.01)
    raise AssertionError(f"no {kind} event within {timeout_s} s")


def test_xid_event_reaches_the_buffer_with_its_number(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake).tick()
    before = time.time_ns()
    fake.inject_event(3, pynvml.nvmlEventTypeXidCriticalError, 79)
    [event] = _tick_until_event(run, "xid").itertuples()
    assert (event.entity, event.code, event.host) == ("gpu3", 79, "node1")
    assert event.message == "XID 79 on gpu3: GPU has fallen off the bus"
    assert event.ts.value >= before  # when it arrived, not the tick's time
    run.close()


def test_double_bit_ecc_event_carries_its_event_type(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("a100x4")
    run = Run(fake).tick()
    fake.inject_event(1, pynvml.nvmlEventTypeDoubleBitEccError, 0)
    [event] = _tick_until_event(run, "ecc").itertuples()
    assert (event.entity, event.code) == ("gpu1", pynvml.nvmlEventTypeDoubleBitEccError)
    run.close()


def test_events_are_registered_only_for_supported_types(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    fake.gpus[0].supported_events = pynvml.nvmlEventTypePState
    run = Run(fake).tick()
    absence = run.absence("gpu.xid_last", "gpu0")
    assert absence is not None and absence.reason.startswith("XID events not supported")
    assert fake.calls("nvmlDeviceRegisterEvents") == 0
    run.close()


def test_close_is_prompt_with_the_default_wait(fake_nvml: MakeFake) -> None:
    run = Run(fake_nvml("h100x8"), NvmlCollector()).tick()
    started = time.monotonic()
    run.close()
    assert time.monotonic() - started < 1.0


def test_processes_carry_placement_read_from_proc(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    pid = os.getpid()
    fake.gpus[2].processes = [(pid, 3 * 2**30), (4_000_000, None)]
    fake.process_names[pid] = sys.executable
    run = Run(fake).tick()
    status = Path(f"/proc/{pid}/status").read_text()
    cpus = next(line.split(":")[1] for line in status.splitlines()
                if line.startswith("Cpus_allowed_list"))
    mems = next(line.split(":")[1] for line in status.splitlines()
                if line.startswith("Mems_allowed_list"))
    [ours, missing] = sorted(run.collector.processes(), key=lambda p: p.pid)
    assert (ours.host, ours.gpu, ours.pid, ours.name) == ("node1", "gpu2", pid, sys.executable)
    assert ours.gpu_memory == 3 * 2**30
    assert ours.cpus_allowed == parse_cpu_list(cpus) and ours.cpus_allowed
    assert ours.mems_allowed == parse_cpu_list(mems)
    assert (missing.pid, missing.cpus_allowed, missing.mems_allowed) == (4_000_000, (), ())
    assert missing.gpu_memory is None and missing.name is None
    assert run.values("gpu2", "gpu.process_count") == [2.0]
    assert run.values("gpu0", "gpu.process_count") == [0.0]
    run.close()


def test_a_pid_of_another_namespace_gets_no_placement(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    fake.gpus[0].processes = [(os.getpid(), 1)]
    fake.process_names[os.getpid()] = "/opt/other/trainer"
    run = Run(fake).tick()
    [proc] = run.collector.processes()
    assert proc.cpus_allowed == () and proc.name == "/opt/other/trainer"
    run.close()


def test_processes_are_read_every_few_seconds_not_every_tick(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake).tick(120, step_s=0.1)  # 12 s at 10 Hz
    assert fake.calls("nvmlDeviceGetComputeRunningProcesses", 0) == 3  # at 0, 5 and 10 s
    run.close()


@pytest.mark.parametrize(("text", "cpus"), [
    ("0-3,8,10-11\n", (0, 1, 2, 3, 8, 10, 11)), ("5", (5,)), ("", ()), ("x-1", ())])
def test_parse_cpu_list(text: str, cpus: tuple[int, ...]) -> None:
    assert parse_cpu_list(text) == cpus
