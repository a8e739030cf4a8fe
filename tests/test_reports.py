"""Every format shows every finding; stdout formats carry the document only."""

from __future__ import annotations

import html
import json

import pytest

from profiler.engine import Evidence, Finding, NotCheckedReason
from profiler.report import SCHEMA_VERSION, Cost, Report, SourceInfo, Window, report_to_dict
from profiler.reports import format_for_path, render, renderers, shaping

FINDINGS = (
    Finding(entities=("node1/gpu0", "node1/gpu1", "node1/nvme0n1"), gpu_time_lost=0.34,
            id="data-starved-storage", title="Data-starved GPUs: storage I/O bound",
            severity="critical", summary="GPUs idle 34 % waiting on node1/nvme0n1",
            evidence=(Evidence("disk.busy", "node1/nvme0n1", 0.98, 0.9, "ratio", "while idle"),),
            remediation="Stage the dataset on local NVMe | use more loader workers."),
    Finding(entities=("node1/gpu3",), gpu_time_lost=None, id="gpu-memory-pressure",
            title="GPU memory nearly full", severity="warning", summary="gpu3 at 98 %",
            remediation="Reduce the batch size."),
)


def make_report(findings: tuple[Finding, ...] = FINDINGS) -> Report:
    return Report(
        source=SourceInfo("files", files=("run1",), formats=("native",)),
        window=Window("2026-01-01T00:00:00+00:00", "2026-01-01T00:09:59+00:00", 600.0),
        findings=findings,
        not_checked=(NotCheckedReason("tensor-cores-unused", "needs gpu.tensor_active: GPM "
                                      "needs Hopper or newer"),),
        checked=("data-starved-storage", "gpu-memory-pressure"),
        cost=Cost(gpus=4, gpu_hours=0.6667, lost_fraction=0.34, gpu_hours_lost=0.2267,
                  price_per_gpu_hour=2.5, money_lost_per_day=81.6, idle_energy_kwh=0.5),
        hosts=("node1",), gpus=("node1/gpu0", "node1/gpu1", "node1/gpu2", "node1/gpu3"),
        samples=600, interval_s=1.0)


@pytest.mark.parametrize("fmt", [pytest.param(f, id=f) for f in renderers()])
def test_every_format_shows_every_finding_and_what_was_not_checked(fmt: str, make_trace) -> None:
    trace = make_trace({f"gpu{i}": {"gpu.util": [1.0, 0.5, 0.0]} for i in range(4)})
    text = render(make_report(), fmt, trace=trace)
    for finding in FINDINGS:
        assert finding.title in text
        shown = {"markdown": finding.remediation.replace("|", "\\|"),
                 "html": html.escape(finding.remediation)}.get(fmt, finding.remediation)
        assert shown in text
    assert "tensor-cores-unused" in text
    assert "34" in text


def test_text_puts_the_verdict_first_and_fits_100_columns() -> None:
    text = render(make_report(), "text")
    first = text.splitlines()[0]
    assert first.startswith("Top bottleneck: Data-starved GPUs: storage I/O bound, ~34 %")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "\x1b[" not in text
    assert "\x1b[" in render(make_report(), "text", color=True)


def test_text_without_findings_says_so() -> None:
    assert render(make_report(()), "text").startswith("No bottleneck found (2 rules checked")


def test_json_follows_the_documented_schema() -> None:
    doc = json.loads(render(make_report(), "json"))
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["tool"]["name"] == "profiler"
    assert set(doc) >= {"source", "window", "findings", "not_checked", "cost", "verdict"}
    first = doc["findings"][0]
    assert set(first) >= {"id", "title", "severity", "gpu_time_lost", "entities", "evidence",
                          "remediation"}
    assert first["evidence"][0] == {"metric": "disk.busy", "entity": "node1/nvme0n1",
                                    "observed": 0.98, "threshold": 0.9, "unit": "ratio",
                                    "note": "while idle"}
    assert doc["findings"][1]["gpu_time_lost"] is None
    assert doc["not_checked"][0]["rule"] == "tensor-cores-unused"
    assert doc["window"]["duration_s"] == 600.0
    assert report_to_dict(make_report())["cost"]["money_lost_per_day"] == 81.6


def test_markdown_escapes_table_pipes() -> None:
    md = render(make_report(), "markdown")
    assert "| # | Finding | Where | GPU time lost | Severity |" in md
    assert "local NVMe \\| use more" in md


def test_format_is_guessed_from_the_output_extension() -> None:
    assert format_for_path("r.json") == "json"
    assert format_for_path("r.md") == "markdown"
    assert format_for_path("r.txt") == "text"
    assert format_for_path("report") is None


@pytest.mark.parametrize(("observed", "unit", "text"), [
    (0.98, "ratio", "98 %"), (0.034, "ratio", "3.4 %"), (3.2e9, "bytes/s", "3.20 GB/s"),
    (80 * 2**30, "bytes", "80.00 GiB"), (1.41e9, "Hz", "1410 MHz"), (612.4, "W", "612 W"),
    (91.2, "celsius", "91 °C"), (0x24, "bitmask", "0x24"), (4, "generation", "Gen4"),
    (None, "ratio", "n/a"),
])
def test_values_are_shown_in_the_units_people_read(observed, unit, text) -> None:
    assert shaping.value(observed, unit) == text


def test_entity_lists_are_compressed() -> None:
    labels = [f"node1/gpu{i}" for i in (0, 1, 2, 3, 5)] + ["node2/gpu0", "node1/nvme0n1", "node1"]
    assert shaping.entities(labels, limit=200) == (
        "node1/gpu[0-3,5], node2/gpu0, node1/nvme0n1, node1")
