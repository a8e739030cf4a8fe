"""Trace -> Report: features, every rule, ranking and what the window cost."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import rules  # noqa: F401 - importing the package registers every rule
from profiler.engine import RuleSettings, run_rules
from profiler.features import Features
from profiler.ranking import rank, total_lost
from profiler.report import Cost, Report, SourceInfo, Window
from profiler.trace import Trace

HOURS_PER_DAY = 24.0
J_PER_KWH = 3.6e6


@runtime_checkable
class ReportsExtras(Protocol):
    """An analysis attached to a Trace by its loader that adds top-level report sections."""

    def report_extras(self) -> dict[str, Any]: ...


def _extras(trace: Trace) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for analysis in trace.analyses.values():
        if isinstance(analysis, ReportsExtras):
            extras.update(analysis.report_extras())
    return extras


def diagnose(
    trace: Trace,
    *,
    source: SourceInfo,
    settings: RuleSettings | None = None,
    price_per_gpu_hour: float | None = None,
    features: Features | None = None,
) -> Report:
    """Run every rule over `trace` and rank what they found."""
    features = features or Features(trace)
    outcome = run_rules(features, settings)
    findings = rank(list(outcome.findings))
    gpus = features.gpus
    duration_s = features.duration_s
    gpu_hours = len(gpus) * duration_s / 3600.0
    lost = total_lost(findings) if gpus else 0.0
    energy_j = features.idle_energy_j()
    cost = Cost(
        gpus=len(gpus),
        gpu_hours=gpu_hours,
        lost_fraction=lost,
        gpu_hours_lost=lost * gpu_hours,
        price_per_gpu_hour=price_per_gpu_hour,
        money_lost_per_day=(lost * len(gpus) * HOURS_PER_DAY * price_per_gpu_hour
                            if price_per_gpu_hour is not None else None),
        idle_energy_kwh=None if energy_j is None else energy_j / J_PER_KWH,
    )
    return Report(
        source=source,
        window=Window(
            start=None if trace.start is None else trace.start.isoformat(),
            end=None if trace.end is None else trace.end.isoformat(),
            duration_s=duration_s,
        ),
        findings=tuple(findings),
        not_checked=outcome.not_checked,
        checked=outcome.checked,
        cost=cost,
        hosts=tuple(features.hosts),
        gpus=tuple(gpus),
        samples=trace.tick_count,
        interval_s=features.step_s if features.n_bins else trace.meta.interval_s,
        extras=_extras(trace),
    )
