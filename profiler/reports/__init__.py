"""Renderers: one module per output format, each turning a finished Report into text."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from profiler.report import Report

if TYPE_CHECKING:
    from profiler.trace import Trace


class Renderer(Protocol):
    format: ClassVar[str]
    extension: ClassVar[str]

    def render(self, report: Report, *, color: bool = False,
               trace: Trace | None = None) -> str: ...


def renderers() -> dict[str, type[Renderer]]:
    from profiler.reports.html import HtmlRenderer
    from profiler.reports.json_report import JsonRenderer
    from profiler.reports.markdown import MarkdownRenderer
    from profiler.reports.text import TextRenderer

    return {r.format: r for r in (TextRenderer, JsonRenderer, MarkdownRenderer, HtmlRenderer)}


def format_for_path(path: str) -> str | None:
    """The format whose extension `path` has ("report.md" -> "markdown"), if any."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    aliases = {"htm": "html", "markdown": "markdown"}
    return next((name for name, r in renderers().items() if r.extension == suffix),
                aliases.get(suffix))


def render(report: Report, fmt: str, *, color: bool = False, trace: Trace | None = None) -> str:
    """Render `report` as `fmt`; the HTML format also draws the trace's timelines."""
    return renderers()[fmt]().render(report, color=color, trace=trace)
