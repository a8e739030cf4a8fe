"""Renderers: one module per output format, each turning a finished Report into text."""

from __future__ import annotations

from typing import ClassVar, Protocol

from profiler.report import Report


class Renderer(Protocol):
    format: ClassVar[str]
    extension: ClassVar[str]

    def render(self, report: Report, *, color: bool = False) -> str: ...


def renderers() -> dict[str, type[Renderer]]:
    from profiler.reports.json_report import JsonRenderer
    from profiler.reports.markdown import MarkdownRenderer
    from profiler.reports.text import TextRenderer

    return {r.format: r for r in (TextRenderer, JsonRenderer, MarkdownRenderer)}


def format_for_path(path: str) -> str | None:
    """The format whose extension `path` has ("report.md" -> "markdown"), if any."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return next((name for name, r in renderers().items() if r.extension == suffix), None)


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    return renderers()[fmt]().render(report, color=color)
