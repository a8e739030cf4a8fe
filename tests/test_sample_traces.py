"""sample_traces/: every committed recording gives the diagnosis expected.json names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import api
from profiler.simulate import SCENARIOS
from tests.cli_helpers import run_cli

SAMPLES = Path(__file__).resolve().parents[1] / "sample_traces"
EXPECTED: dict[str, str | None] = json.loads((SAMPLES / "expected.json").read_text())


def test_there_is_a_sample_of_every_scenario() -> None:
    assert {name: s.expected_finding for name, s in SCENARIOS.items()} == EXPECTED, \
        "stale: run python sample_traces/regenerate.py"
    assert all((SAMPLES / name / "_trace.json").is_file() for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_diagnosis(name: str) -> None:
    trace, source = api.load([SAMPLES / name])
    report = api.diagnose(trace, source)
    serious = [f for f in report.findings if f.severity in ("warning", "critical")]
    want = EXPECTED[name]
    if want is None:
        assert serious == [], [f.summary for f in serious]
    else:
        assert serious, f"nothing at warning or above; findings: {report.findings}"
        assert serious[0].id == want, [f.summary for f in serious]


def test_cli_reads_a_sample_as_a_user_would(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_cli("diagnose", str(SAMPLES / "thermal-throttling"), "--output", str(out),
                     "--fail-on", "warning")
    assert result.returncode == 1, result.stderr  # a warning exists
    report = json.loads(out.read_text())
    assert report["findings"][0]["id"] == "thermal-throttling"
