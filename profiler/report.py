"""The Report: what a diagnosis says, as plain records that every renderer reads.

The JSON form of a Report is a versioned public contract (docs/report-format.md): bump
SCHEMA_VERSION and add a changelog line for any change a consumer could notice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from profiler import __version__
from profiler.engine import Finding, NotCheckedReason

SCHEMA_VERSION = 1
TOOL_NAME = "profiler"


@dataclass(frozen=True, slots=True)
class Window:
    start: str | None
    end: str | None
    duration_s: float


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where the samples came from: this node, live, or files."""

    kind: Literal["live", "files"]
    files: tuple[str, ...] = ()
    host: str | None = None
    formats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Cost:
    """What the window cost: GPU-hours lost to the findings, money at a price, idle energy."""

    gpus: int
    gpu_hours: float
    lost_fraction: float
    gpu_hours_lost: float
    price_per_gpu_hour: float | None = None
    money_lost_per_day: float | None = None
    idle_energy_kwh: float | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """A ranked diagnosis of one window of one or more hosts."""

    source: SourceInfo
    window: Window
    findings: tuple[Finding, ...]
    not_checked: tuple[NotCheckedReason, ...]
    checked: tuple[str, ...]
    cost: Cost
    hosts: tuple[str, ...]
    gpus: tuple[str, ...]
    samples: int
    interval_s: float | None
    schema_version: int = SCHEMA_VERSION
    tool_version: str = __version__
    # Extra top-level JSON sections from analyses of richer input, e.g. "breakdown" (per-rank
    # GPU time breakdown of PyTorch profiler traces); documented in docs/report-format.md.
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def headline(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def worst_severity(self) -> str | None:
        order = {"info": 0, "warning": 1, "critical": 2}
        return max((f.severity for f in self.findings), key=order.__getitem__, default=None)


def verdict(report: Report) -> str:
    """One line that answers "what is wrong here?"."""
    from profiler.ranking import explained_by_it, rank_cost

    top = report.headline
    if top is None:
        checked = len(report.checked)
        return (f"No bottleneck found ({checked} rules checked, "
                f"{len(report.not_checked)} not checked).")
    findings = list(report.findings)
    makes = explained_by_it(top, findings)
    title = top.title + (f", which makes {', '.join(makes[0].entities)} the straggler"
                         if makes else "")
    lost = _lost_text(rank_cost(top, findings))
    if top.severity == "info":
        return f"No significant bottleneck; largest: {title}{lost}."
    return f"Top bottleneck: {title}{lost}."


def _lost_text(lost: float | None) -> str:
    if lost is None:
        return ""
    return f", ~{lost * 100:.0f} % of GPU time lost"


def _finding_dict(finding: Finding, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "id": finding.id,
        "title": finding.title,
        "severity": finding.severity,
        "gpu_time_lost": (None if finding.gpu_time_lost is None
                          else round(finding.gpu_time_lost, 6)),
        "entities": list(finding.entities),
        "summary": finding.summary,
        "evidence": [
            {"metric": e.metric, "entity": e.entity, "observed": _num(e.observed),
             "threshold": _num(e.threshold), "unit": e.unit, "note": e.note}
            for e in finding.evidence
        ],
        "remediation": finding.remediation,
        "explained_by": finding.explained_by,
        "notes": list(finding.notes),
    }


def _num(value: float | None) -> float | None:
    if value is None or value != value:  # NaN is not JSON
        return None
    return round(float(value), 6)


def report_to_dict(report: Report) -> dict[str, Any]:
    """The JSON document (schema in docs/report-format.md)."""
    return {
        "schema_version": report.schema_version,
        "tool": {"name": TOOL_NAME, "version": report.tool_version},
        "source": dataclasses.asdict(report.source) | {
            "files": list(report.source.files), "formats": list(report.source.formats)},
        "window": dataclasses.asdict(report.window),
        "hosts": list(report.hosts),
        "gpus": list(report.gpus),
        "samples": report.samples,
        "interval_s": report.interval_s,
        "verdict": verdict(report),
        "findings": [_finding_dict(f, i + 1) for i, f in enumerate(report.findings)],
        "not_checked": [{"rule": n.rule, "reason": n.reason} for n in report.not_checked],
        "checked": list(report.checked),
        "cost": {k: _num(v) if isinstance(v, float) else v
                 for k, v in dataclasses.asdict(report.cost).items()},
        **report.extras,
    }
