"""The Markdown report: for a pull-request comment or a GitHub step summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from profiler.trace import Trace

from profiler.report import Report, verdict
from profiler.reports import shaping
from profiler.reports.breakdown import HEADER as BREAKDOWN_HEADER
from profiler.reports.breakdown import breakdown_rows

SEVERITY_MARK = {"critical": "🔴 critical", "warning": "🟡 warning", "info": "🔵 info"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownRenderer:
    format: ClassVar[str] = "markdown"
    extension: ClassVar[str] = "md"

    def render(self, report: Report, *, color: bool = False,
               trace: Trace | None = None) -> str:
        lines = [f"### {_cell(verdict(report))}", ""]
        lines.append(f"{', '.join(report.hosts) or 'no host'} · {len(report.gpus)} GPUs · "
                     f"{shaping.duration(report.window.duration_s)} · {report.samples} samples")
        lines.append("")
        if report.findings:
            lines += ["| # | Finding | Where | GPU time lost | Severity |",
                      "|--:|---|---|--:|---|"]
            for rank, f in enumerate(report.findings, 1):
                lines.append(f"| {rank} | {_cell(f.title)} (`{f.id}`) | "
                             f"{_cell(shaping.entities(f.entities))} | "
                             f"{shaping.percent(f.gpu_time_lost)} | {SEVERITY_MARK[f.severity]} |")
            lines.append("")
            for rank, f in enumerate(report.findings, 1):
                lines.append(f"<details><summary><b>{rank}. {_cell(f.title)}</b> — "
                             f"{_cell(f.summary)}</summary>")
                lines.append("")
                for note in f.notes:
                    lines.append(f"_{_cell(note)}_")
                    lines.append("")
                if f.evidence:
                    lines += ["| Metric | Entity | Observed | Threshold | Note |",
                              "|---|---|--:|--:|---|"]
                    for e in f.evidence:
                        threshold = ("" if e.threshold is None
                                     else shaping.value(e.threshold, e.unit))
                        lines.append(f"| `{e.metric}` | {_cell(e.entity)} | "
                                     f"{shaping.value(e.observed, e.unit)} | {threshold} | "
                                     f"{_cell(e.note)} |")
                    lines.append("")
                lines.append(f"**Remedy:** {_cell(f.remediation)}")
                lines.append("")
                lines.append("</details>")
                lines.append("")
        cost = report.cost
        if cost.gpus:
            money = ("" if cost.money_lost_per_day is None
                     else f", {cost.money_lost_per_day:,.2f} per day at this rate")
            lines.append(f"**Cost:** {cost.gpu_hours_lost:.2f} of {cost.gpu_hours:.2f} GPU-hours "
                         f"lost ({shaping.percent(cost.lost_fraction)}){money}.")
            lines.append("")
        rows = breakdown_rows(report)
        if rows:  # profiler timelines: HTA's and the TensorBoard plugin's numbers per rank
            lines += ["**GPU time per rank:**", "", "| " + " | ".join(BREAKDOWN_HEADER) + " |",
                      "|" + "---|" * len(BREAKDOWN_HEADER)]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
        if report.not_checked:
            lines.append("**Not checked:**")
            lines.append("")
            lines += [f"- `{n.rule}`: {_cell(n.reason)}" for n in report.not_checked]
            lines.append("")
        return "\n".join(lines)
