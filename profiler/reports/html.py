"""The HTML report: one self-contained file (uPlot, data, CSS and JS inlined; no network).

Verdict and ranked findings first, then aligned timelines on one time axis, a GPU x time heatmap
and, for PyTorch traces, the per-rank breakdown. Each finding links to the chart region that is
its evidence.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from profiler.errors import UsageError
from profiler.report import Report, verdict
from profiler.reports import shaping

if TYPE_CHECKING:
    from profiler.trace import Trace


@cache
def _asset(name: str) -> str:
    return (resources.files("profiler.reports") / "assets" / name).read_text(encoding="utf-8")


def _script_json(data: dict[str, Any]) -> str:
    # "</" would end the <script> element early; JSON allows escaping the slash.
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


class HtmlRenderer:
    format: ClassVar[str] = "html"
    extension: ClassVar[str] = "html"

    def render(self, report: Report, *, color: bool = False, trace: Trace | None = None) -> str:
        if trace is None:
            raise UsageError("the HTML report needs the trace it was diagnosed from")
        from profiler.features import Features
        from profiler.reports.timeline import build_timeline

        timeline = build_timeline(Features(trace), report).to_json()
        timeline["breakdown"] = report.extras.get("breakdown")
        body = "\n".join([
            f"<h1>{_e(verdict(report))}</h1>",
            f"<div class='scope'>{_e(_scope(report))}</div>",
            _findings_table(report),
            _findings_details(report),
            _cost(report),
            "<section id='heatmap' class='chart'><h3></h3></section>",
            "<section id='breakdown' class='chart'><h3>GPU time per rank</h3></section>",
            "<h2>Timelines</h2><div id='charts'></div>",
            _not_checked(report),
        ])
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>profiler — {_e(verdict(report))}</title>"
            f"<style>{_asset('uPlot.min.css')}\n{_asset('report.css')}</style></head>"
            f"<body><main>{body}</main>"
            f"<script id='profiler-data' type='application/json'>{_script_json(timeline)}</script>"
            f"<script>{_asset('uPlot.iife.min.js')}</script>"
            f"<script>{_asset('report.js')}</script></body></html>\n"
        )


def _scope(report: Report) -> str:
    return (f"{', '.join(report.hosts) or 'no host'} · {len(report.gpus)} GPUs · "
            f"{shaping.duration(report.window.duration_s)} · {report.samples} samples · "
            f"{report.window.start or ''} → {report.window.end or ''}")


def _findings_table(report: Report) -> str:
    if not report.findings:
        return ""
    rows = "".join(
        f"<tr><td class='num'>{rank}</td><td><a class='show' id='show-{rank}'>{_e(f.title)}</a>"
        f"<br><code>{_e(f.id)}</code></td><td>{_e(shaping.entities(f.entities, 60))}</td>"
        f"<td class='num'>{_e(shaping.percent(f.gpu_time_lost))}</td>"
        f"<td><span class='sev sev-{f.severity}'>{f.severity}</span></td></tr>"
        for rank, f in enumerate(report.findings, 1))
    return ("<h2>Findings</h2><table><tr><th>#</th><th>Finding (click: show on the timeline)"
            f"</th><th>Where</th><th>GPU time lost</th><th>Severity</th></tr>{rows}</table>")


def _findings_details(report: Report) -> str:
    parts = []
    for rank, f in enumerate(report.findings, 1):
        notes = "".join(f"<div class='note'>{_e(n)}</div>" for n in f.notes)
        evidence = "".join(
            f"<tr><td><code>{_e(e.metric)}</code></td><td>{_e(e.entity)}</td>"
            f"<td class='num'>{_e(shaping.value(e.observed, e.unit))}</td>"
            f"<td class='num'>{_e(_threshold(e.threshold, e.unit))}</td>"
            f"<td>{_e(e.note)}</td></tr>" for e in f.evidence)
        table = ("<table><tr><th>Metric</th><th>Entity</th><th>Observed</th><th>Threshold</th>"
                 f"<th>Note</th></tr>{evidence}</table>") if evidence else ""
        parts.append(f"<div class='finding'><h3>{rank}. {_e(f.title)} "
                     f"<span class='sev sev-{f.severity}'>{f.severity}</span></h3>"
                     f"<div class='summary'>{_e(f.summary)}</div>{notes}{table}"
                     f"<div><b>Remedy:</b> {_e(f.remediation)}</div></div>")
    return "".join(parts)


def _threshold(threshold: float | None, unit: str) -> str:
    return "" if threshold is None else shaping.value(threshold, unit)


def _cost(report: Report) -> str:
    c = report.cost
    if not c.gpus:
        return ""
    money = ("" if c.money_lost_per_day is None
             else f"; {c.money_lost_per_day:,.2f} per day at {c.price_per_gpu_hour:g}/GPU-hour")
    energy = ("" if c.idle_energy_kwh is None
              else f"; idle GPUs drew {c.idle_energy_kwh:.2f} kWh")
    return (f"<p class='cost'><b>Cost:</b> {c.gpu_hours_lost:.2f} of {c.gpu_hours:.2f} GPU-hours "
            f"lost ({_e(shaping.percent(c.lost_fraction))}){_e(energy)}{_e(money)}.</p>")


def _not_checked(report: Report) -> str:
    if not report.not_checked:
        return ""
    items = "".join(f"<li><code>{_e(n.rule)}</code>: {_e(n.reason)}</li>"
                    for n in report.not_checked)
    return f"<h2>Not checked</h2><ul class='notchecked'>{items}</ul>"
