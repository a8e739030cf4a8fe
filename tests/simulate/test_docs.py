"""docs/simulator.md carries the scenario list and constants rendered from the code."""

from __future__ import annotations

from pathlib import Path

from profiler.simulate import SCENARIOS
from profiler.simulate.docs import (
    CONSTANTS_BEGIN,
    CONSTANTS_END,
    SCENARIOS_BEGIN,
    SCENARIOS_END,
    constants_markdown,
    refresh,
    scenario_markdown,
    section,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
HOW = "regenerate with: python -m profiler.simulate.docs docs/simulator.md"


def test_scenario_section_is_current() -> None:
    assert section(DOC.read_text(), SCENARIOS_BEGIN, SCENARIOS_END) == scenario_markdown(), HOW


def test_constants_section_is_current() -> None:
    assert section(DOC.read_text(), CONSTANTS_BEGIN, CONSTANTS_END) == constants_markdown(), HOW


def test_every_scenario_is_listed_with_its_diagnosis() -> None:
    text = scenario_markdown()
    for s in SCENARIOS.values():
        assert f"### `{s.name}`" in text and s.description in text
    assert text.count("Diagnosis:") == len(SCENARIOS)


def test_refresh_replaces_a_stale_section() -> None:
    stale = (f"intro\n{SCENARIOS_BEGIN}\nSTALE-TEXT\n{SCENARIOS_END}\n"
             f"{CONSTANTS_BEGIN}\n{CONSTANTS_END}\n")
    fresh = refresh(stale)
    assert fresh.startswith("intro\n") and "STALE-TEXT" not in fresh
    assert scenario_markdown() in fresh and constants_markdown() in fresh
