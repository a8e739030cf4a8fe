"""The terminal report: verdict first, then the ranked table, then evidence and remedies.

Rendered by Rich into a string of at most 100 columns; plain text unless `color` is asked for
(the CLI asks only for a terminal that allows colour).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, ClassVar

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from profiler.engine import Finding

if TYPE_CHECKING:
    from profiler.trace import Trace

from profiler.report import Report, verdict
from profiler.reports import shaping
from profiler.reports.breakdown import HEADER as BREAKDOWN_HEADER
from profiler.reports.breakdown import breakdown_rows

WIDTH = 100
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class TextRenderer:
    format: ClassVar[str] = "text"
    extension: ClassVar[str] = "txt"

    def render(self, report: Report, *, color: bool = False,
               trace: Trace | None = None) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, width=WIDTH, force_terminal=color, no_color=not color,
                          color_system="standard" if color else None, highlight=False,
                          emoji=False, legacy_windows=False)
        console.print(Text(verdict(report), style="bold"))
        console.print(Text(_scope(report), style="dim"))
        if report.findings:
            console.print()
            console.print(_table(report))
            for rank, finding in enumerate(report.findings, 1):
                console.print()
                console.print(_details(rank, finding))
        console.print()
        console.print(_cost(report))
        rows = breakdown_rows(report)
        if rows:  # profiler timelines: HTA's and the TensorBoard plugin's numbers per rank
            console.print()
            console.print(Text("GPU time per rank (HTA shares of the span; DataLoader: of the "
                               "step):", style="bold"))
            table = Table(box=None, pad_edge=False, header_style="bold")
            for name in BREAKDOWN_HEADER:
                table.add_column(name, no_wrap=True, min_width=len(name),
                                 justify="left" if name == "GPU" else "right")
            for row in rows:
                table.add_row(*row)
            console.print(table)
        if report.not_checked:
            console.print()
            console.print(Text("Not checked:", style="bold"))
            for item in report.not_checked:
                console.print(Text(f"  {item.rule}: {item.reason}"), overflow="fold")
        return buffer.getvalue()


def _scope(report: Report) -> str:
    hosts = ", ".join(report.hosts) if len(report.hosts) <= 3 else f"{len(report.hosts)} hosts"
    gpus = f"{len(report.gpus)} GPU{'s' if len(report.gpus) != 1 else ''}"
    every = f" every {shaping.value(report.interval_s, 's')}" if report.interval_s else ""
    where = ("live on " + (report.source.host or "this host") if report.source.kind == "live"
             else ", ".join(report.source.files) if len(report.source.files) <= 2
             else f"{len(report.source.files)} files")
    return (f"{hosts or 'no host'} · {gpus} · {shaping.duration(report.window.duration_s)} "
            f"({report.samples} samples{every}) · {where}")


def _table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column("#", justify="right")
    table.add_column("Finding", max_width=42)
    table.add_column("Where", max_width=28)
    table.add_column("GPU time lost", justify="right")
    table.add_column("Severity")
    for rank, finding in enumerate(report.findings, 1):
        table.add_row(str(rank), escape(finding.title), escape(shaping.entities(finding.entities)),
                      shaping.percent(finding.gpu_time_lost),
                      Text(finding.severity, style=SEVERITY_STYLE[finding.severity]))
    return table


def _details(rank: int, finding: Finding) -> Group:
    head = Text()
    head.append(f"{rank}. {finding.title}", style="bold")
    head.append(f" ({finding.id}) ", style="dim")
    head.append(finding.severity, style=SEVERITY_STYLE[finding.severity])
    lines: list[Text] = [head]
    if finding.summary:
        lines.append(Text(f"   {finding.summary}"))
    for note in finding.notes:
        lines.append(Text(f"   Note: {note}", style="italic"))
    if finding.evidence:
        lines.append(Text("   Evidence:"))
        for e in finding.evidence:
            threshold = ("" if e.threshold is None
                         else f" (threshold {shaping.value(e.threshold, e.unit)})")
            note = f" {e.note}" if e.note else ""
            lines.append(Text(f"     {e.metric} on {e.entity}: "
                              f"{shaping.value(e.observed, e.unit)}{threshold}{note}"))
    if finding.remediation:
        lines.append(Text(f"   Remedy: {finding.remediation}"))
    return Group(*lines)


def _cost(report: Report) -> Text:
    cost = report.cost
    if not cost.gpus:
        return Text("Cost: no GPU in this data.", style="dim")
    parts = [f"Cost: {cost.gpu_hours_lost:.2f} of {cost.gpu_hours:.2f} GPU-hours lost "
             f"({shaping.percent(cost.lost_fraction)})"]
    if cost.idle_energy_kwh is not None:
        parts.append(f"idle GPUs drew {cost.idle_energy_kwh:.2f} kWh")
    if cost.money_lost_per_day is not None and cost.price_per_gpu_hour is not None:
        parts.append(f"at {cost.price_per_gpu_hour:g}/GPU-hour that is "
                     f"{cost.money_lost_per_day:,.2f} per day")
    return Text("; ".join(parts) + ".")
