"""The [gate] table of profiler.toml, and docs/ci.md kept in step with the code."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from profiler.errors import ConfigError, UsageError
from profiler.gate import baseline_path, split_sides
from profiler.gate.figures import FAMILIES
from profiler.gate.settings import GateSettings, gate_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def test_defaults_without_a_gate_table() -> None:
    assert gate_settings({}, "p.toml") == GateSettings()
    assert GateSettings().threshold("finding_loss") == 0.03


def test_a_full_table_is_read() -> None:
    doc = tomllib.loads("""
[gate]
alpha = 0.005
min_samples = 300
windows = 0
fail_on = "critical"
figures = ["gpu_busy", "step_time"]
ignore_findings = ["lookalike-checkpoint"]
baseline_dir = "perf/baselines"
[gate.thresholds]
gpu_busy = 0.05
""")
    s = gate_settings(doc, "p.toml")
    assert (s.alpha, s.min_samples, s.windows, s.fail_on) == (0.005, 300, 0, "critical")
    assert s.figures == ("gpu_busy", "step_time")
    assert s.ignore_findings == frozenset({"lookalike-checkpoint"})
    assert s.threshold("gpu_busy") == 0.05 and s.threshold("step_time") == 0.03
    assert s.baseline_dir == "perf/baselines"


@pytest.mark.parametrize(("text", "key"), [
    pytest.param("[gate]\nalpha = 0.9", "gate.alpha", id="alpha-range"),
    pytest.param("[gate]\nmin_samples = 2.5", "gate.min_samples", id="int"),
    pytest.param("[gate]\nwindows = true", "gate.windows", id="bool"),
    pytest.param("[gate]\nspeed = 1", "gate.speed", id="unknown"),
    pytest.param('[gate]\nfail_on = "fatal"', "gate.fail_on", id="severity"),
    pytest.param("[gate]\nfigures = \"gpu_busy\"", "gate.figures", id="not-list"),
    pytest.param("[gate]\nmin_blocks = 12", "gate.min_blocks", id="blocks"),
    pytest.param("[gate.thresholds]\nsteps = 0.1", "gate.thresholds.steps", id="threshold"),
    pytest.param("gate = 3", "gate", id="not-table"),
])
def test_bad_values_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        gate_settings(tomllib.loads(text), "p.toml")
    assert str(e.value).startswith(f"p.toml: [{key}]")


def test_sides_split_on_vs_or_baseline_name() -> None:
    assert split_sides(["a", "b"], None) == (["a"], ["b"])
    assert split_sides(["a", "b", "vs", "c"], None) == (["a", "b"], ["c"])
    assert split_sides(["c1", "c2"], "main") == ([], ["c1", "c2"])
    for bad, name in ((["a"], None), (["a", "vs"], None), (["a", "vs", "b"], "main"), ([], "m")):
        with pytest.raises(UsageError):
            split_sides(bad, name)
    assert baseline_path("main-2.x", "d") == Path("d/main-2.x.json")
    for name in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(UsageError):
            baseline_path(name, "d")


def test_docs_name_every_figure_and_setting() -> None:
    text = DOC.read_text(encoding="utf-8")
    for family in FAMILIES:
        assert f'"{family}"' in text, family
    for field in dataclasses.fields(GateSettings):
        assert f"{field.name} =" in text or field.name == "thresholds", field.name
    doc_table = text.split("```toml", 1)[1].split("```", 1)[0]
    gate_settings(tomllib.loads(doc_table), "docs/ci.md")  # the example is valid
    for code, word in ((0, "no regression"), (1, "regressed"), (2, "input error"),
                       (3, "inconclusive")):
        assert f"| {code} |" in text and word in text
