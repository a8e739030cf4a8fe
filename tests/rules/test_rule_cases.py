"""Every YAML case under tests/rules/cases runs one rule through the real engine."""

from __future__ import annotations

import pytest

import rules  # noqa: F401 - registers every rule
from profiler.engine import RULES
from tests.rules.case_loader import RuleCase, load_cases, run_case, within

CASES = load_cases()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[c.id for c in CASES])


def test_case(case: RuleCase) -> None:
    assert case.rule in RULES, f"{case.path.name}: unknown rule {case.rule}"
    outcome = run_case(case)
    expected_not_checked = case.body.get("not_checked")
    if case.name.startswith("not_checked_"):
        reasons = [n.reason for n in outcome.not_checked]
        assert reasons, f"expected not checked, got findings {outcome.findings}"
        if isinstance(expected_not_checked, str):
            assert expected_not_checked in reasons[0]
        return
    assert not outcome.not_checked, outcome.not_checked
    if case.name.startswith("pass_"):
        assert outcome.findings == (), [f.summary for f in outcome.findings]
        return
    expected = case.body["findings"]
    assert len(outcome.findings) == len(expected), [f.summary for f in outcome.findings]
    unmatched = list(outcome.findings)
    for want in expected:
        match = next((f for f in unmatched if sorted(f.entities) == sorted(want["entities"])), None)
        found = [f.entities for f in unmatched]
        assert match is not None, f"no finding on {want['entities']}: {found}"
        unmatched.remove(match)
        if "gpu_time_lost" in want:
            assert within(match.gpu_time_lost, want["gpu_time_lost"]), match.gpu_time_lost
        if "severity" in want:
            assert match.severity == want["severity"]
        for metric, observed in want.get("evidence", {}).items():
            values = [e.observed for e in match.evidence if e.metric == metric]
            assert values and any(within(v, observed) for v in values), (metric, match.evidence)


def test_every_rule_has_pass_fail_and_not_checked_cases() -> None:
    kinds: dict[str, set[str]] = {}
    for case in CASES:
        kinds.setdefault(case.rule, set()).add(case.name.split("_")[0])
    for rule_id, spec in RULES.items():
        have = kinds.get(rule_id, set())
        wanted = {"pass", "fail"} | ({"not"} if spec.needs or spec.live_only else set())
        assert wanted <= have, f"{rule_id} lacks {sorted(wanted - have)} cases"
