"""The engine: registration checks, not-checked reasons, severities, variants per finding id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from profiler import engine
from profiler.engine import Evidence, Finding, NotChecked, RuleSettings, Threshold, rule, run_rules
from profiler.features import Features
from profiler.trace import Absence, Trace, TraceMeta

DOC = """Test rule.

Fires when: always.
Does not fire when: never.
Remedy: none.
Sources: this test.
"""


@pytest.fixture
def registry() -> Iterator[None]:
    """Run a test against an empty registry, restoring the real one afterwards."""
    saved = dict(engine.RULES), {k: list(v) for k, v in engine.VARIANTS.items()}
    engine.RULES.clear()
    engine.VARIANTS.clear()
    try:
        yield
    finally:
        engine.RULES.clear()
        engine.VARIANTS.clear()
        engine.RULES.update(saved[0])
        engine.VARIANTS.update(saved[1])


def _rule(func, **kwargs):
    func.__doc__ = DOC
    options = {"id": "demo", "title": "Demo", "needs": ("gpu.util",), "remediation": "Fix it."}
    return rule(**(options | kwargs))(func)


def test_registration_refuses_duplicates_bad_docs_and_unsourced_thresholds(registry) -> None:
    _rule(lambda f, th: [])
    with pytest.raises(RuntimeError, match="registered twice"):
        _rule(lambda f, th: [])
    with pytest.raises(RuntimeError, match="unknown metric"):
        _rule(lambda f, th: [], id="x", needs=("gpu.utilization",))
    with pytest.raises(RuntimeError, match="lacks a unit or a source"):
        _rule(lambda f, th: [], id="y", thresholds={"t": Threshold(1.0, unit="ratio", source="")})

    def undocumented(f, th):
        return []

    with pytest.raises(RuntimeError, match="docstring lacks"):
        rule(id="z", title="Z", needs=(), remediation="-")(undocumented)


def test_missing_metric_is_not_checked_with_the_recorded_reason(registry, make_trace) -> None:
    _rule(lambda f, th: [], needs=("gpu.sm_active|gpu.gr_engine_active",))
    trace = make_trace({"gpu0": {"gpu.util": [1.0]}})
    trace = Trace(trace.samples, TraceMeta(unavailable=(
        Absence("gpu.sm_active", "GPM needs Hopper or newer"),)))
    outcome = run_rules(Features(trace))
    assert outcome.findings == () and outcome.checked == ()
    assert outcome.not_checked[0].reason == (
        "needs gpu.sm_active or gpu.gr_engine_active: GPM needs Hopper or newer")


def test_engine_fills_identity_and_severity_from_gpu_time_lost(registry, make_trace) -> None:
    losses = [0.25, 0.06, 0.01, None]
    _rule(lambda f, th: [Finding(("node1/gpu0",), lost, (Evidence("gpu.util", "node1/gpu0",
                                                                  0.1, th.limit, "ratio"),))
                         for lost in losses] + [Finding(("node1/gpu0",), None,
                                                        hardware_error=True)],
          thresholds={"limit": Threshold(0.5, unit="ratio", source="test", bounds=(0, 1))},
          merge_per_host=False)
    outcome = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})),
                        RuleSettings(overrides={"demo": {"limit": 0.7}}))
    assert [f.severity for f in outcome.findings] == ["critical", "warning", "info", "info",
                                                      "critical"]
    assert all(f.id == "demo" and f.remediation == "Fix it." for f in outcome.findings)
    assert outcome.findings[0].evidence[0].threshold == 0.7


def test_a_rule_can_say_why_it_cannot_decide(registry, make_trace) -> None:
    def undecidable(f, th):
        raise NotChecked("no events and no health metrics in this data")

    _rule(undecidable)
    outcome = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})))
    assert outcome.not_checked[0].reason == "no events and no health metrics in this data"


def test_the_best_fed_variant_of_a_finding_id_runs(registry, make_trace) -> None:
    _rule(lambda f, th: [Finding(("hw",), 0.1)])
    _rule(lambda f, th: [Finding(("timeline",), 0.1)], variant="timeline", priority=10,
          needs=("gpu.sm_active",))
    hardware = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})))
    assert [f.entities for f in hardware.findings] == [("hw",)]
    both = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0], "gpu.sm_active": [1.0]}})))
    assert [f.entities for f in both.findings] == [("timeline",)]
    neither = run_rules(Features(make_trace({"gpu0": {"gpu.power": [1.0]}})))
    assert "; or " in neither.not_checked[0].reason


def test_live_only_rules_are_not_checked_on_replays(registry, make_trace) -> None:
    _rule(lambda f, th: [], live_only=True, needs=())
    outcome = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})))
    assert "profiler record" in outcome.not_checked[0].reason


def test_disabled_rules_do_not_run(registry, make_trace) -> None:
    _rule(lambda f, th: [Finding(("x",), 0.5)])
    outcome = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})),
                        RuleSettings(disabled=frozenset({"demo"})))
    assert outcome.findings == () and outcome.not_checked == ()


def test_findings_of_one_rule_on_one_host_become_one(registry, make_trace) -> None:
    _rule(lambda f, th: [Finding((f"node1/gpu{i}",), 0.02, summary=f"gpu{i} capped")
                         for i in range(8)] + [Finding(("node2/gpu0",), 0.01)])
    outcome = run_rules(Features(make_trace({"gpu0": {"gpu.util": [1.0]}})))
    merged, other = outcome.findings
    assert merged.entities == tuple(f"node1/gpu{i}" for i in range(8))
    assert merged.gpu_time_lost == pytest.approx(0.16) and merged.severity == "warning"
    assert merged.summary.startswith("gpu0 capped; gpu1 capped; gpu2 capped; and 5 more")
    assert other.entities == ("node2/gpu0",) and other.severity == "info"
