"""`profiler top`: a live full-screen view of this node, and what is wrong with it right now.

Samples every collector each interval, keeps the last `window_s` seconds, shows per-GPU and host
lines, and re-runs the diagnosis over that window every few seconds. Keys: q quits, g / h show
the GPU / host pane, Tab switches.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from collectors.base import Collector
from profiler.catalog import CLOCK_EVENT_BITS
from profiler.errors import UsageError
from profiler.recorder import Sampler, local_host_name
from profiler.report import Report
from profiler.reports import shaping
from profiler.trace import Trace, TraceMeta, normalize_samples

DIAGNOSE_EVERY_S = 5.0
PANES = ("gpu", "host")


@dataclass(slots=True)
class TopState:
    """What the screen shows: the rolling window of samples and the latest diagnosis."""

    window_s: float
    pane: str = "gpu"
    frames: list[pd.DataFrame] = field(default_factory=list)
    report: Report | None = None
    last_diagnosis: float = 0.0

    def add(self, frame: pd.DataFrame, now_ns: int) -> None:
        if not frame.empty:
            self.frames.append(frame)
        cutoff = pd.Timestamp(now_ns - int(self.window_s * 1e9), unit="ns", tz="UTC")
        while self.frames and self.frames[0]["ts"].max() < cutoff:
            self.frames.pop(0)

    def window(self) -> pd.DataFrame:
        frames = [f.astype({"host": str, "entity": str, "metric": str}) for f in self.frames]
        return normalize_samples(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()

    def latest(self) -> dict[tuple[str, str], float]:
        """(entity, metric) -> the newest value in the window."""
        if not self.frames:
            return {}
        recent = pd.concat(self.frames[-3:], ignore_index=True)
        last = recent.groupby(["entity", "metric"], observed=True)["value"].last()
        return {(str(e), str(m)): float(v) for (e, m), v in last.items()}


def _reasons(mask: float | None) -> str:
    if mask is None:
        return ""
    bits = int(mask)
    names = [name for name, bit in CLOCK_EVENT_BITS.items() if bits & bit and name != "gpu_idle"]
    return ", ".join(names)


def _gpu_table(values: dict[tuple[str, str], float], gpus: list[str]) -> Table:
    table = Table(expand=True, pad_edge=False, header_style="bold")
    for name, justify in (("GPU", "left"), ("util", "right"), ("SM", "right"),
                          ("memory", "right"), ("power", "right"), ("temp", "right"),
                          ("SM clock", "right"), ("throttled by", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for gpu in gpus:
        def v(metric: str, gpu: str = gpu) -> float | None:
            return values.get((gpu, metric))

        used, free = v("gpu.fb_used"), v("gpu.fb_free")
        memory = (f"{shaping.value(used, 'bytes')} / {shaping.value(used + free, 'bytes')}"
                  if used is not None and free is not None else shaping.value(used, "bytes"))
        power = shaping.value(v("gpu.power"), "W")
        if v("gpu.power_limit"):
            power += f" / {shaping.value(v('gpu.power_limit'), 'W')}"
        clock = shaping.value(v("gpu.clock_sm"), "Hz")
        if v("gpu.clock_sm_max"):
            clock += f" / {shaping.value(v('gpu.clock_sm_max'), 'Hz')}"
        table.add_row(gpu, shaping.value(v("gpu.util"), "ratio"),
                      shaping.value(v("gpu.sm_active"), "ratio"), memory, power,
                      shaping.value(v("gpu.temp"), "celsius"), clock,
                      Text(_reasons(v("gpu.clocks_event_reasons")), style="red"))
    return table


def _host_table(values: dict[tuple[str, str], float]) -> Table:
    table = Table(expand=True, pad_edge=False, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")

    def host(metric: str) -> float | None:
        return values.get(("host", metric))

    modes = " ".join(f"{m} {shaping.value(host(f'host.cpu.{m}'), 'ratio')}"
                     for m in ("user", "system", "iowait", "steal", "idle"))
    table.add_row("CPU", modes)
    table.add_row("busiest core", shaping.value(host("host.cpu.core_busy_max"), "ratio"))
    table.add_row("load", shaping.value(host("host.load1"), "count"))
    avail, total = host("host.mem_available"), host("host.mem_total")
    table.add_row("memory", f"{shaping.value(avail, 'bytes')} available of "
                  f"{shaping.value(total, 'bytes')}")
    table.add_row("swap", f"used {shaping.value(host('host.swap_used'), 'bytes')}, in "
                  f"{shaping.value(host('host.swap_in'), 'bytes/s')}, out "
                  f"{shaping.value(host('host.swap_out'), 'bytes/s')}")
    devices = sorted({e for e, m in values if m.startswith(("disk.", "nic.", "ib."))})
    for device in devices:
        def d(metric: str, device: str = device) -> float | None:
            return values.get((device, metric))

        if d("disk.read") is not None or d("disk.busy") is not None:
            table.add_row(device, f"read {shaping.value(d('disk.read'), 'bytes/s')}, write "
                          f"{shaping.value(d('disk.write'), 'bytes/s')}, busy "
                          f"{shaping.value(d('disk.busy'), 'ratio')}")
        else:
            rx = d("nic.rx") if d("nic.rx") is not None else d("ib.rx")
            tx = d("nic.tx") if d("nic.tx") is not None else d("ib.tx")
            table.add_row(device, f"rx {shaping.value(rx, 'bytes/s')}, tx "
                          f"{shaping.value(tx, 'bytes/s')}")
    return table


def _findings(report: Report | None) -> Text:
    if report is None:
        return Text("Diagnosing the last minute…", style="dim")
    if not report.findings:
        return Text("No bottleneck in the last minute.", style="green")
    text = Text()
    for rank, f in enumerate(report.findings[:4], 1):
        style = {"critical": "bold red", "warning": "yellow", "info": "cyan"}[f.severity]
        text.append(f"{rank}. ", style="bold")
        text.append(f"{f.title}", style=style)
        text.append(f"  {shaping.entities(f.entities, 40)}  {shaping.percent(f.gpu_time_lost)}\n")
    return text


def screen(state: TopState, sampler: Sampler, cpu_percent: float) -> Group:
    values = state.latest()
    gpus = sorted({e for e, m in values if m.startswith("gpu.")},
                  key=lambda g: (len(g), g))
    title = (f"profiler top · {sampler.host} · {time.strftime('%H:%M:%S')} · "
             f"profiler CPU {cpu_percent:.1f} %")
    if state.pane == "gpu":
        if gpus:
            body: Table | Text = _gpu_table(values, gpus)
        else:
            reasons = {a.reason for a in sampler.absences() if a.what.startswith("gpu")}
            body = Text("No GPU on this host: host metrics only. "
                        + ("; ".join(sorted(reasons)) if reasons else ""), style="yellow")
    else:
        body = _host_table(values)
    pane_name = "GPUs" if state.pane == "gpu" else "Host"
    return Group(
        Text(title, style="bold reverse"),
        Panel(body, title=pane_name, border_style="blue"),
        Panel(_findings(state.report), title="Top findings (last minute)", border_style="magenta"),
        Text("q quit · g GPUs · h host · Tab switch", style="dim"),
    )


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _read_key(fd: int, timeout: float) -> str | None:
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    return os.read(fd, 1).decode(errors="ignore") if ready else None


def _diagnose(state: TopState, sampler: Sampler, interval_s: float) -> None:
    from profiler.diagnosis import diagnose
    from profiler.report import SourceInfo

    window = state.window()
    if window.empty:
        return
    meta = TraceMeta(source="record", interval_s=interval_s, hosts=(sampler.host_info(),),
                     gpus=tuple(g for c in sampler.collectors for g in c.gpus()),
                     processes=tuple(p for c in sampler.collectors for p in c.processes()),
                     unavailable=sampler.absences())
    state.report = diagnose(Trace(window, meta), source=SourceInfo("live", host=sampler.host))


def run_top(collectors: list[Collector], *, interval_s: float = 1.0, window_s: float = 60.0,
            console: Console | None = None) -> None:
    """Run the live view until q. Needs a terminal on stdin and stdout."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("profiler top needs a terminal (use `profiler diagnose` in scripts)")
    if not interval_s >= 0.1:
        raise UsageError(f"--interval must be at least 0.1 s, not {interval_s}")
    console = console or Console()
    sampler = Sampler(collectors, local_host_name())
    sampler.open()
    state = TopState(window_s=window_s)
    fd = sys.stdin.fileno()
    cpu0, wall0 = time.process_time(), time.monotonic()
    try:
        with _cbreak(fd), Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                tick_start = time.monotonic()
                sampler.tick()
                samples, _ = sampler.buffer.take()
                state.add(samples, time.time_ns())
                if tick_start - state.last_diagnosis >= DIAGNOSE_EVERY_S:
                    _diagnose(state, sampler, interval_s)
                    state.last_diagnosis = tick_start
                wall = time.monotonic() - wall0
                cpu = 100.0 * (time.process_time() - cpu0) / wall if wall > 0 else 0.0
                live.update(screen(state, sampler, cpu), refresh=True)
                deadline = tick_start + interval_s
                while (remaining := deadline - time.monotonic()) > 0:
                    key = _read_key(fd, remaining)
                    if key in ("q", "Q"):
                        return
                    if key in ("g", "h", "\t"):
                        state.pane = {"g": "gpu", "h": "host"}.get(
                            key, PANES[(PANES.index(state.pane) + 1) % len(PANES)])
                        live.update(screen(state, sampler, cpu), refresh=True)
    finally:
        sampler.close()
