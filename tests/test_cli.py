"""The `profiler` command as users run it: help, errors, exit codes, stdout hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import __version__
from profiler.storage import write_trace
from tests.cli_helpers import run_cli

COMMANDS = ("record", "info", "diagnose", "rules", "simulate")


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"profiler {__version__}"


def test_help_lists_every_command_with_a_description() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        line = next(line for line in result.stdout.splitlines() if f" {command} " in line)
        assert len(line.split(command, 1)[1].strip(" │")) > 10, line


@pytest.fixture
def small_trace(tmp_path: Path, make_trace) -> Path:
    trace = make_trace({f"gpu{i}": {"gpu.util": [1.0] * 30, "gpu.power": [600.0] * 30}
                        for i in range(2)} | {"host": {"host.cpu.user": [0.2] * 30}})
    return write_trace(trace, tmp_path / "t")


def test_info_shows_gpus_metrics_and_json(small_trace: Path) -> None:
    result = run_cli("info", str(small_trace))
    assert result.returncode == 0, result.stderr
    assert "gpu.util" in result.stdout and "node1/gpu1" in result.stdout
    doc = json.loads(run_cli("info", str(small_trace), "-f", "json").stdout)
    assert doc["samples"] == 30 and len(doc["gpus"]) == 2


def test_diagnose_json_puts_only_the_document_on_stdout(small_trace: Path) -> None:
    result = run_cli("diagnose", str(small_trace), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["source"]["files"] == [str(small_trace)]
    assert doc["gpus"] == ["node1/gpu0", "node1/gpu1"]


def test_diagnose_writes_the_format_its_output_extension_names(small_trace: Path,
                                                               tmp_path: Path) -> None:
    result = run_cli("diagnose", str(small_trace), "-o", str(tmp_path / "r.md"))
    assert result.returncode == 0 and result.stdout == ""
    assert (tmp_path / "r.md").read_text().startswith("### ")


@pytest.mark.parametrize("args", [
    pytest.param(("info", "/no/such/trace"), id="info-missing"),
    pytest.param(("diagnose", "/no/such/trace"), id="diagnose-missing"),
    pytest.param(("diagnose", "README.md"), id="not-a-recording"),
    pytest.param(("diagnose", "--config", "/no/such.toml", "README.md"), id="config-missing"),
    pytest.param(("record", "--interval", "0.001", "--duration", "1"), id="interval-too-small"),
    pytest.param(("record", "--duration", "-3"), id="negative-duration"),
    pytest.param(("simulate", "no-such-scenario", "-o", "/tmp/x"), id="bad-scenario"),
    pytest.param(("diagnose", "--format", "yaml"), id="bad-format"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path) if "README.md" not in args else run_cli(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    if not any(a.startswith("--format") for a in args):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unwritable_output_is_exit_2(small_trace: Path) -> None:
    result = run_cli("diagnose", str(small_trace), "-o", "/proc/forbidden/report.json")
    assert result.returncode == 2 and "/proc/forbidden/report.json" in result.stderr
