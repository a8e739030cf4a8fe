"""The sampler and recorder with collectors written for the test (real ones are tested apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.base import Collector, SampleBuffer
from profiler.errors import UsageError
from profiler.recorder import MAX_FAULTS_BEFORE_DISABLE, Recorder, Sampler
from profiler.storage import read_trace
from profiler.trace import HostInfo


class Counting(Collector):
    name = "counting"
    provides = ("host.load1",)

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def sample(self, buf: SampleBuffer) -> None:
        self.n += 1
        buf.add("host", "host.load1", float(self.n))

    def host_info(self) -> HostInfo:
        return HostInfo(self.host, cpu_count=4)


class Broken(Collector):
    name = "broken"
    provides = ("gpu.util", "gpu.power")

    def sample(self, buf: SampleBuffer) -> None:
        raise ValueError("boom")

    def host_info(self) -> HostInfo:
        return HostInfo(self.host, cpu_count=99, driver_version="590.48.01")


def test_a_failing_collector_is_isolated_then_disabled_with_a_reason() -> None:
    sampler = Sampler([Broken(), Counting()], host="node1")
    sampler.open()
    for _ in range(MAX_FAULTS_BEFORE_DISABLE + 3):
        sampler.tick()
    samples, events = sampler.buffer.take()
    assert samples["value"].tolist() == [float(i) for i in range(1, MAX_FAULTS_BEFORE_DISABLE + 4)]
    assert (events["kind"] == "collector_fault").sum() == MAX_FAULTS_BEFORE_DISABLE
    assert "ValueError: boom" in events["message"].iloc[0]
    reasons = {a.what: a.reason for a in sampler.absences()}
    assert set(reasons) == {"gpu.util", "gpu.power"}
    assert "disabled after 5 consecutive failures" in reasons["gpu.util"]


class FailsToOpen(Collector):
    name = "fails-to-open"
    provides = ("disk.read_bytes",)

    def open(self, host: str) -> None:
        raise PermissionError("/sys/block: permission denied")

    def sample(self, buf: SampleBuffer) -> None:
        raise AssertionError("a collector that did not open is never sampled")


def test_a_collector_that_cannot_open_is_disabled_and_the_others_run() -> None:
    sampler = Sampler([FailsToOpen(), Counting()], host="node1")
    sampler.open()
    sampler.tick()
    sampler.tick()
    samples, events = sampler.buffer.take()
    assert samples["value"].tolist() == [1.0, 2.0]
    assert events.empty
    (absence,) = sampler.absences()
    assert absence.what == "disk.read_bytes"
    assert absence.reason == ("fails-to-open collector could not start: "
                              "PermissionError: /sys/block: permission denied")


def test_host_facts_merge_first_known_wins() -> None:
    sampler = Sampler([Counting(), Broken()], host="node1")
    sampler.open()
    info = sampler.host_info()
    assert (info.name, info.cpu_count, info.driver_version) == ("node1", 4, "590.48.01")


def test_duration_and_interval_give_the_expected_number_of_ticks() -> None:
    trace = Recorder([Counting()], interval_s=0.05, host="node1").run(duration_s=0.5)
    assert 9 <= trace.tick_count <= 10
    assert trace.meta.complete
    assert trace.meta.overhead is not None and trace.meta.overhead.ticks == trace.tick_count
    gaps = trace.samples["ts"].diff().dt.total_seconds().dropna()
    assert gaps.median() == pytest.approx(0.05, abs=0.01)


def test_recording_to_disk_flushes_and_finalizes(tmp_path: Path) -> None:
    trace = Recorder([Counting()], interval_s=0.05, flush_s=0.1, output=tmp_path / "t",
                     host="node1").run(duration_s=0.6)
    assert (tmp_path / "t" / "samples.parquet").exists()
    assert not list((tmp_path / "t").glob("part-*"))
    back = read_trace(tmp_path / "t")
    assert back.tick_count == trace.tick_count >= 10
    assert back.meta.hosts[0].cpu_count == 4


@pytest.mark.parametrize("kwargs", [{"interval_s": 0.01}, {"interval_s": float("nan")},
                                    {"flush_s": 0}])
def test_bad_settings_are_usage_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        Recorder([Counting()], **kwargs)


def test_stop_ends_the_recording_promptly() -> None:
    recorder = Recorder([Counting()], interval_s=0.05, host="node1")
    seen = []

    def on_tick(progress: object) -> None:
        seen.append(progress)
        if len(seen) == 3:
            recorder.stop()

    trace = recorder.run(duration_s=30, on_tick=on_tick)
    assert trace.tick_count == 3
