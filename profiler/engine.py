"""The rule engine: how a rule is declared, what it returns, and how rules are run over a trace.

A rule is a plain function `(features, thresholds) -> list[Finding]`, registered with @rule and
documented by its own docstring. The engine, not the rule, skips a rule whose metrics are absent
and records why; a rule may also raise NotChecked for a reason beyond metric presence.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from profiler.catalog import METRICS

if TYPE_CHECKING:
    from profiler.features import Features

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
CRITICAL_LOSS = 0.20
WARNING_LOSS = 0.05
DOC_HEADINGS = ("Fires when:", "Does not fire when:", "Remedy:", "Sources:")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A rule's tunable number: its default, unit, allowed range and the source of the default."""

    default: float
    unit: str
    source: str
    bounds: tuple[float, float] = (-math.inf, math.inf)
    help: str = ""


class Thresholds:
    """The thresholds one rule runs with (defaults overridden by config): `th.name` is a float."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no threshold named {name!r}") from None

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One number behind a finding: what was observed on which entity, against which threshold."""

    metric: str
    entity: str
    observed: float
    threshold: float | None
    unit: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """A bottleneck found in the trace.

    Rules fill `entities`, `gpu_time_lost` (fraction 0..1 of all GPU-time in the window, or None
    when not estimable), `evidence` and a one-line `summary`; the engine fills `id`, `title`,
    `remediation` (unless the rule gives a specific one) and `severity`.
    """

    entities: tuple[str, ...]
    gpu_time_lost: float | None
    evidence: tuple[Evidence, ...] = ()
    summary: str = ""
    remediation: str = ""
    id: str = ""
    title: str = ""
    severity: Severity = "info"
    hardware_error: bool = False
    explained_by: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotCheckedReason:
    rule: str
    reason: str


class NotChecked(Exception):
    """Raised by a rule that cannot be evaluated on this trace; the message is the reason."""


RuleFunc = Callable[["Features", Thresholds], list[Finding]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A registered rule. `needs` entries are metric names; "a|b" means either will do.

    One finding id may have several evaluators for different kinds of data (a `variant`, e.g.
    "pytorch" for profiler timelines); the engine runs, per id, the first one by `priority`
    (highest first) whose needs the trace meets.
    """

    id: str
    title: str
    func: RuleFunc
    needs: tuple[str, ...]
    thresholds: Mapping[str, Threshold]
    remediation: str
    groups: tuple[str, ...] = ()
    live_only: bool = False
    variant: str | None = None
    priority: int = 0
    merge_per_host: bool = True

    @property
    def key(self) -> str:
        """Unique registry key: the id, or "id@variant"."""
        return self.id if self.variant is None else f"{self.id}@{self.variant}"

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.title

    def defaults(self) -> dict[str, float]:
        return {name: t.default for name, t in self.thresholds.items()}


RULES: dict[str, RuleSpec] = {}  # finding id -> its primary (variant-less) evaluator
VARIANTS: dict[str, list[RuleSpec]] = {}  # finding id -> every evaluator, highest priority first


def rule(
    *,
    id: str,
    title: str,
    needs: Sequence[str],
    remediation: str,
    thresholds: Mapping[str, Threshold] | None = None,
    groups: Sequence[str] = (),
    live_only: bool = False,
    variant: str | None = None,
    priority: int = 0,
    merge_per_host: bool = True,
) -> Callable[[RuleFunc], RuleFunc]:
    """Register a rule function under a stable public id (refuses duplicates and bad docs).

    By default the findings a rule returns for several entities of one host are merged into
    one (see merge_by_host); `merge_per_host=False` keeps them apart (e.g. each GPU's XIDs)."""

    def register(func: RuleFunc) -> RuleFunc:
        key = id if variant is None else f"{id}@{variant}"
        if any(spec.key == key for spec in VARIANTS.get(id, [])):
            raise RuntimeError(f"rule {key!r} registered twice")
        doc = inspect.cleandoc(func.__doc__ or "")
        missing = [h for h in DOC_HEADINGS if h not in doc]
        if missing:
            raise RuntimeError(f"rule {id}: docstring lacks {', '.join(missing)}")
        for need in needs:
            for name in need.split("|"):
                if name not in METRICS:
                    raise RuntimeError(f"rule {id}: needs unknown metric {name!r}")
        for name, th in (thresholds or {}).items():
            if not th.source or not th.unit:
                raise RuntimeError(f"rule {id}: threshold {name} lacks a unit or a source")
            low, high = th.bounds
            if not low <= th.default <= high:
                raise RuntimeError(f"rule {id}: threshold {name} default outside its bounds")
        spec = RuleSpec(id, title, func, tuple(needs), dict(thresholds or {}), remediation,
                        tuple(groups), live_only, variant, priority, merge_per_host)
        VARIANTS[id] = sorted([*VARIANTS.get(id, []), spec], key=lambda s: -s.priority)
        if variant is None or id not in RULES:
            RULES[id] = spec
        return func

    return register


def severity_for(finding: Finding) -> Severity:
    """critical: a hardware error or >= 20 % of GPU time; warning: >= 5 %; else info."""
    if finding.hardware_error:
        return "critical"
    lost = finding.gpu_time_lost
    if lost is None:
        return finding.severity
    if lost >= CRITICAL_LOSS:
        return "critical"
    if lost >= WARNING_LOSS:
        return "warning"
    return "info"


@dataclass(slots=True)
class RuleSettings:
    """Per-run rule configuration: threshold overrides by rule id, and rules turned off.

    Overrides are keyed by finding id (all its variants) or "id@variant" (that one only)."""

    overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()

    def thresholds_for(self, spec: RuleSpec) -> Thresholds:
        mine = {**self.overrides.get(spec.id, {}), **self.overrides.get(spec.key, {})}
        return Thresholds({**spec.defaults(),
                           **{k: v for k, v in mine.items() if k in spec.thresholds}})


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    findings: tuple[Finding, ...]
    not_checked: tuple[NotCheckedReason, ...]
    checked: tuple[str, ...]


def missing_needs(spec: RuleSpec, features: Features) -> list[str]:
    """The `needs` entries none of whose alternatives has samples in the trace."""
    return [need for need in spec.needs
            if not any(features.has(name) for name in need.split("|"))]


def _absence_text(spec: RuleSpec, features: Features, missing: list[str]) -> str:
    parts = []
    for need in missing:
        reasons = [r for r in (features.trace.absence_reason(n) for n in need.split("|")) if r]
        names = " or ".join(need.split("|"))
        parts.append(f"needs {names}: {reasons[0]}" if reasons
                     else f"needs {names}, not in this data")
    return "; ".join(parts)


def run_rules(features: Features, settings: RuleSettings | None = None,
              rule_ids: Sequence[str] | None = None) -> RuleOutcome:
    """Run every registered rule (or `rule_ids`) over the features of one trace."""
    settings = settings or RuleSettings()
    findings: list[Finding] = []
    not_checked: list[NotCheckedReason] = []
    checked: list[str] = []
    for rule_id in rule_ids or sorted(VARIANTS):
        if rule_id in settings.disabled:
            continue
        spec, reason = _choose_evaluator(rule_id, features)
        if spec is None:
            not_checked.append(NotCheckedReason(rule_id, reason))
            continue
        try:
            produced = spec.func(features, settings.thresholds_for(spec))
        except NotChecked as e:
            not_checked.append(NotCheckedReason(rule_id, str(e)))
            continue
        checked.append(rule_id)
        for found in merge_by_host(produced) if spec.merge_per_host else produced:
            found = dataclasses.replace(
                found, id=spec.id, title=found.title or spec.title,
                remediation=found.remediation or spec.remediation,
                gpu_time_lost=_clip(found.gpu_time_lost))
            findings.append(dataclasses.replace(found, severity=severity_for(found)))
    return RuleOutcome(tuple(findings), tuple(not_checked), tuple(checked))


def merge_by_host(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per host: the same cause on 8 GPUs of a node is one line of the report, its
    cost the sum of theirs (each already a fraction of all GPU-time)."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        host = finding.entities[0].split("/", 1)[0] if finding.entities else ""
        groups.setdefault(host, []).append(finding)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        losses = [f.gpu_time_lost for f in group if f.gpu_time_lost is not None]
        summaries = [f.summary for f in group if f.summary]
        summary = "; ".join(summaries[:3]) + (
            f"; and {len(summaries) - 3} more" if len(summaries) > 3 else "")
        worst = max(group, key=lambda f: SEVERITIES.index(f.severity))
        merged.append(dataclasses.replace(
            group[0],
            entities=tuple(dict.fromkeys(e for f in group for e in f.entities)),
            gpu_time_lost=sum(losses) if losses else None,
            evidence=tuple(e for f in group for e in f.evidence),
            summary=summary,
            severity=worst.severity,
            hardware_error=any(f.hardware_error for f in group),
            notes=tuple(dict.fromkeys(n for f in group for n in f.notes)),
        ))
    return merged


def _choose_evaluator(rule_id: str, features: Features) -> tuple[RuleSpec | None, str]:
    """The highest-priority evaluator of `rule_id` this trace can feed, or why there is none."""
    reasons: list[str] = []
    for spec in VARIANTS[rule_id]:
        if spec.live_only and not features.is_live_recording:
            reasons.append("needs where the GPU processes run (CPUs, NUMA memory), which only a "
                           "recording made by `profiler record` or live `diagnose` captures")
            continue
        missing = missing_needs(spec, features)
        if missing:
            reasons.append(_absence_text(spec, features, missing))
            continue
        return spec, ""
    return None, "; or ".join(dict.fromkeys(reasons))


def _clip(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return min(1.0, max(0.0, float(value)))
