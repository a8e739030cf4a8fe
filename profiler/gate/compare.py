"""Baseline vs candidate: one Check per figure and per new finding, and the exit code.

A figure is a regression only when the one-sided Welch test on block means is significant at
`alpha` AND the change is worse than its practical floor; too few samples or blocks make it
inconclusive, never a verdict. A finding id at `fail_on` severity or above in the candidate that
the baseline lacks altogether (hysteresis: an info-level baseline finding counts as present)
and that fires in at least `window_share` of the candidate's windows is a regression by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from profiler.errors import InputError
from profiler.gate.figures import FAMILIES
from profiler.gate.settings import SEVERITIES, GateSettings
from profiler.gate.stats import SeriesStats, block_inflation, welch
from profiler.gate.summary import LOSS_PREFIX, Side

Verdict = Literal["pass", "improved", "regression", "inconclusive"]
PASS, REGRESSION, USAGE_ERROR, UNDECIDED = 0, 1, 2, 3
TEST_NAME = "one-sided Welch t-test on block means"


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict on one figure or one new finding, with everything needed to read it."""

    name: str                      # stable: "gpu_busy", "loss/ID", "new-finding/ID"
    family: str                    # a figure family, or "new_finding"
    verdict: Verdict
    detail: str
    unit: str = ""
    source: str = ""
    baseline: float | None = None
    candidate: float | None = None
    change: float | None = None    # relative (or absolute for absolute-floor figures)
    change_kind: str = "relative"
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    threshold: float | None = None
    blocks: tuple[int, int] = (0, 0)
    samples: tuple[int, int] = (0, 0)
    tau: float | None = None


@dataclass(frozen=True, slots=True)
class GateResult:
    baseline: Side
    candidate: Side
    checks: tuple[Check, ...]
    alpha: float
    test: str = TEST_NAME

    def count(self, verdict: Verdict) -> int:
        return sum(c.verdict == verdict for c in self.checks)

    def exit_code(self, strict: bool = False) -> int:
        if self.count("regression"):
            return REGRESSION
        if strict and self.count("inconclusive"):
            return UNDECIDED
        return PASS

    @property
    def verdict(self) -> str:
        if self.count("regression"):
            return "regression"
        return "inconclusive" if self.count("inconclusive") else "pass"


def compare(baseline: Side, candidate: Side, settings: GateSettings,
            allow_testbed_mismatch: bool = False) -> GateResult:
    """Compare every figure both sides can give, then look for new findings."""
    if baseline.testbed != candidate.testbed and not allow_testbed_mismatch:
        raise InputError(candidate.label, f"testbed differs from the baseline: "
                         f"{candidate.testbed.describe()} vs {baseline.testbed.describe()} "
                         "(--allow-testbed-mismatch to compare anyway)")
    checks: list[Check] = []
    for name in _figure_order(baseline, candidate):
        check = _figure_check(name, baseline, candidate, settings)
        if check is not None:
            checks.append(check)
    checks.extend(_new_findings(baseline, candidate, settings))
    if not checks:
        raise InputError(candidate.label, "nothing to compare: no figure is present on both "
                         "sides (GPU activity, steps or throughput counters)")
    return GateResult(baseline, candidate, tuple(checks), settings.alpha)


def _family_of(name: str) -> str:
    if name.startswith(LOSS_PREFIX):
        return "finding_loss"
    if name.startswith("gpu_busy/"):
        return "gpu_busy_per_gpu"
    return name


def _figure_order(baseline: Side, candidate: Side) -> list[str]:
    names = dict.fromkeys([*baseline.figures, *candidate.figures])
    rank = {family: i for i, family in enumerate(FAMILIES)}
    return sorted(names, key=lambda n: (rank.get(_family_of(n), 99), n))


def _figure_check(name: str, baseline: Side, candidate: Side,
                  settings: GateSettings) -> Check | None:
    family_name = _family_of(name)
    if family_name not in settings.figures or family_name not in FAMILIES:
        return None
    family = FAMILIES[family_name]
    base_sources = baseline.figures.get(name, {})
    cand_sources = candidate.figures.get(name, {})
    loss = family_name == "finding_loss"
    if loss:  # a finding that did not fire in any window of one side lost nothing there
        base_sources = base_sources or _zeros(baseline.windows)
        cand_sources = cand_sources or _zeros(candidate.windows)
    shared = [s for s in base_sources if s in cand_sources]
    if not shared:
        missing = "candidate" if base_sources else "baseline"
        if not (base_sources or cand_sources):
            return None
        return Check(name, family_name, "inconclusive", f"not measured in the {missing}",
                     unit=family.unit)
    source = shared[0]
    a, b = base_sources[source], cand_sources[source]
    threshold = settings.threshold(family_name)
    short = _too_little(a, b, settings, loss)
    base = Check(name, family_name, "inconclusive", short, unit=family.unit, source=source,
                 baseline=_finite(a.mean), candidate=_finite(b.mean), threshold=threshold,
                 blocks=(len(a.blocks), len(b.blocks)), samples=(a.n, b.n),
                 tau=None if loss else max(a.tau, b.tau), change_kind=family.floor_kind)
    if short:
        return base
    test = welch(a.blocks, b.blocks, family.better, settings.alpha,
                 (block_inflation(a), block_inflation(b)))
    scale = 1.0 if family.floor_kind == "absolute" else _mean_of(a)
    if scale == 0.0 or not math.isfinite(scale):
        scale = math.nan
    change, low, high = test.diff / scale, test.ci_low / scale, test.ci_high / scale
    worse_by = change if family.better == "lower" else -change
    significant = test.p_worse < settings.alpha
    better_p = 1.0 - test.p_worse
    verdict: Verdict
    if significant and worse_by >= threshold:
        verdict = "regression"
    elif better_p < settings.alpha and -worse_by >= threshold:
        verdict = "improved"
    else:
        verdict = "pass"
    detail = (f"{_fmt_change(change, family.floor_kind)} (p={test.p_worse:.2g}, "
              f"{len(a.blocks)}+{len(b.blocks)} blocks"
              + ("" if loss else f", tau~{max(a.tau, b.tau):.1f}") + ")")
    if verdict == "pass" and significant:
        detail += f"; significant but within the {_fmt_floor(threshold, family.floor_kind)} floor"
    elif verdict == "pass" and worse_by >= threshold:
        detail += f"; worse by more than {_fmt_floor(threshold, family.floor_kind)} but not " \
                  f"significant at alpha={settings.alpha:g}"
    return replace(base, verdict=verdict, detail=detail, change=change, ci=(low, high),
                   p_value=test.p_worse)


def _zeros(windows: int) -> dict[str, SeriesStats]:
    from profiler.gate.summary import LOSS_SOURCE

    if windows <= 0:
        return {}
    return {LOSS_SOURCE: SeriesStats(windows, 0.0, 0.0, 1.0, (0.0,) * windows)}


def _too_little(a: SeriesStats, b: SeriesStats, settings: GateSettings, loss: bool) -> str:
    if not loss:
        n = min(a.n, b.n)
        if n < settings.min_samples:
            return (f"needs >= {settings.min_samples} samples per side after warm-up; "
                    f"has {a.n} and {b.n}")
    blocks = min(len(a.blocks), len(b.blocks))
    if blocks < settings.min_blocks:
        tau = max(a.tau, b.tau)
        need = settings.min_blocks * math.ceil(2.0 * tau)
        what = "windows" if loss else f"blocks of >= 2 tau samples (tau~{tau:.1f}: " \
                                      f"about {need} samples per side)"
        return f"needs >= {settings.min_blocks} {what}; has {len(a.blocks)} and {len(b.blocks)}"
    return ""


def _new_findings(baseline: Side, candidate: Side, settings: GateSettings) -> list[Check]:
    floor = SEVERITIES.index(settings.fail_on)
    present = {f.id for f in baseline.findings}
    checks: list[Check] = []
    for f in candidate.findings:
        if f.id in settings.ignore_findings or f.id in present:
            continue
        if SEVERITIES.index(f.severity) < floor:
            continue
        lost = "" if f.gpu_time_lost is None else f", ~{f.gpu_time_lost:.0%} of GPU time lost"
        where = f" on {', '.join(f.entities[:4])}" if f.entities else ""
        detail = f"{f.id} ({f.severity}): not in baseline, active in candidate{where}{lost}"
        verdict: Verdict = "regression"
        if candidate.windows:
            hits = candidate.window_hits.get(f.id, 0)
            need = math.ceil(settings.window_share * candidate.windows)
            detail += f"; fired in {hits} of {candidate.windows} windows"
            if hits < need:
                verdict = "pass"
                detail += f" (< {need}: treated as flapping)"
        checks.append(Check(f"new-finding/{f.id}", "new_finding", verdict, detail,
                            candidate=f.gpu_time_lost, unit="ratio"))
    return checks


def _mean_of(stats: SeriesStats) -> float:
    return sum(stats.blocks) / len(stats.blocks)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _fmt_change(change: float, kind: str) -> str:
    if not math.isfinite(change):
        return "n/a"
    return f"{change:+.1%}" if kind == "relative" else f"{change * 100:+.1f} pp"


def _fmt_floor(threshold: float, kind: str) -> str:
    return f"{threshold:.0%}" if kind == "relative" else f"{threshold * 100:.1f} pp"
