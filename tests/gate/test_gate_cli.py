"""`profiler gate` and `profiler baseline save` end to end: real simulated recordings, real
subprocesses, outputs read back with real parsers (JUnit validated against an XSD)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

HERE = Path(__file__).resolve().parent
DURATION = "300"  # s at 1 Hz: 270 samples per side after the 30 s warm-up


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two healthy runs of one configuration (other seeds), a data-starved one, a short one."""
    root = tmp_path_factory.mktemp("gate-recordings")
    plan = {"healthy1": ("healthy", "1", DURATION), "healthy2": ("healthy", "2", DURATION),
            "starved": ("data-starved-storage", "3", DURATION),
            "short": ("healthy", "4", "90")}
    out: dict[str, Path] = {}
    for name, (scenario, seed, duration) in plan.items():
        path = root / name
        done = run_cli("simulate", scenario, "--seed", seed, "--duration", duration,
                       "-o", str(path))
        assert done.returncode == 0, done.stderr
        out[name] = path
    return out


def test_two_runs_of_one_configuration_pass(recordings: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "gate.xml"
    done = run_cli("gate", str(recordings["healthy1"]), str(recordings["healthy2"]),
                   "--junit", str(junit), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "gpu_busy" in done.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) >= 6


def test_a_data_starved_run_fails_naming_the_finding(recordings: dict[str, Path],
                                                     tmp_path: Path) -> None:
    junit, markdown, summary = tmp_path / "gate.xml", tmp_path / "gate.md", tmp_path / "step.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    done = run_cli("gate", str(recordings["healthy1"]), str(recordings["starved"]),
                   "--junit", str(junit), "--markdown", str(markdown), "--format", "json",
                   cwd=tmp_path, GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "regression" and doc["exit_code"] == 1
    verdicts = {c["name"]: c["verdict"] for c in doc["checks"]}
    assert verdicts["new-finding/data-starved-storage"] == "regression"
    assert verdicts["loss/data-starved-storage"] == "regression"
    assert verdicts["gpu_busy"] == "regression"
    busy = next(c for c in doc["checks"] if c["name"] == "gpu_busy")
    assert busy["change"] < -0.03 and busy["ci"][1] < 0 and busy["p_value"] < 0.01
    # JUnit: one failing case per regression, and the new finding by name
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["new-finding/data-starved-storage"].find("failure")
    assert failure is not None and "data-starved-storage" in failure.get("message", "")
    # Markdown written to the file and appended (not truncated) to the job summary
    text = markdown.read_text(encoding="utf-8")
    assert "| `new-finding/data-starved-storage` | :x: regression |" in text
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + text


def test_junit_validates_against_the_junit_schema(recordings: dict[str, Path],
                                                  tmp_path: Path) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    junit = tmp_path / "gate.xml"
    done = run_cli("gate", str(recordings["healthy1"]), str(recordings["starved"]),
                   "--junit", str(junit), "--config", str(_short_config(tmp_path)), cwd=tmp_path)
    assert done.returncode == 1
    schema = xmlschema.XMLSchema(HERE / "junit.xsd")
    schema.validate(junit)  # raises on any violation
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert suite.get("tests") == root.get("tests") == str(len(cases))
    assert suite.get("failures") == root.get("failures") == str(len(failures)) != "0"
    assert len({c.get("name") for c in cases}) == len(cases)  # GitLab keeps only the first
    for case in cases:
        assert case.get("classname") == "profiler.gate" and case.get("time") == "0"
        assert len([e for e in case if e.tag in ("failure", "error", "skipped")]) <= 1


def _short_config(tmp_path: Path) -> Path:
    config = tmp_path / "fast.toml"
    config.write_text('[gate]\nwindows = 6\nfigures = ["gpu_busy", "finding_loss"]\n',
                      encoding="utf-8")
    return config


def test_inconclusive_on_short_runs_exits_3_only_when_strict(recordings: dict[str, Path],
                                                              tmp_path: Path) -> None:
    args = ("gate", str(recordings["short"]), str(recordings["short"]), "--config",
            str(_short_config(tmp_path)), "--junit", str(tmp_path / "j.xml"))
    lenient = run_cli(*args, cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stderr
    assert "inconclusive" in lenient.stdout and "needs >= 200 samples" in lenient.stdout
    skipped = [c for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
               if c.find("skipped") is not None]
    assert skipped and skipped[0].get("name") == "gpu_busy"
    assert run_cli(*args, "--strict", cwd=tmp_path).returncode == 3


def test_saved_baseline_gives_the_same_verdicts(recordings: dict[str, Path],
                                                tmp_path: Path) -> None:
    config = str(_short_config(tmp_path))
    saved = run_cli("baseline", "save", "main", str(recordings["healthy1"]), "-c", config,
                    cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    path = tmp_path / ".profiler" / "baselines" / "main.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["kind"] == "profiler-gate-baseline" and doc["tool_version"]
    assert len(doc["sources"][0]["sha256"]) == 64
    assert path.stat().st_size < 20_000
    via_name = run_cli("gate", "--baseline", "main", str(recordings["starved"]), "-c", config,
                       "-f", "json", cwd=tmp_path)
    via_file = run_cli("gate", str(path), str(recordings["starved"]), "-c", config, "-f",
                       "json", cwd=tmp_path)
    via_trace = run_cli("gate", str(recordings["healthy1"]), str(recordings["starved"]), "-c",
                        config, "-f", "json", cwd=tmp_path)
    assert via_name.returncode == via_file.returncode == via_trace.returncode == 1

    def verdicts(out: str) -> list[tuple[str, str, float | None]]:
        return [(c["name"], c["verdict"], c["p_value"]) for c in json.loads(out)["checks"]]

    assert verdicts(via_name.stdout) == verdicts(via_trace.stdout) == verdicts(via_file.stdout)
    other_dir = run_cli("baseline", "save", "x", str(recordings["healthy1"]), "-c", config,
                        "--baseline-dir", str(tmp_path / "elsewhere"), cwd=tmp_path)
    assert other_dir.returncode == 0 and (tmp_path / "elsewhere" / "x.json").is_file()


def _one_line_error(done: object, *needles: str) -> None:
    import subprocess

    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_bad_input_on_either_side_exits_2_with_one_line(recordings: dict[str, Path],
                                                        tmp_path: Path, side: str) -> None:
    good = str(recordings["healthy1"])
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 not a trace")
    missing = str(tmp_path / "nope.trace")
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "profiler-gate-baseline", "schema_version": 1, "figures": 3}',
                      encoding="utf-8")
    for bad, needle in ((str(garbage), "garbage.bin"), (missing, "nope.trace"),
                        (str(broken), "broken.json")):
        args = (bad, good) if side == "baseline" else (good, bad)
        _one_line_error(run_cli("gate", *args, cwd=tmp_path), needle)


def test_usage_and_config_errors_exit_2(recordings: dict[str, Path], tmp_path: Path) -> None:
    good = str(recordings["healthy1"])
    _one_line_error(run_cli("gate", good, cwd=tmp_path), "BASELINE CANDIDATE")
    _one_line_error(run_cli("gate", good, good, good, cwd=tmp_path), "3 argument")
    _one_line_error(run_cli("gate", "vs", good, cwd=tmp_path), "each side")
    _one_line_error(run_cli("gate", "--baseline", "../etc", good, cwd=tmp_path),
                    "baseline name")
    _one_line_error(run_cli("gate", "--baseline", "absent", good, cwd=tmp_path),
                    "absent.json", "no saved baseline")
    bad = tmp_path / "bad.toml"
    bad.write_text("[gate]\nalpha = 2\n", encoding="utf-8")
    _one_line_error(run_cli("gate", good, good, "-c", str(bad), cwd=tmp_path), "gate.alpha")
    bad.write_text('[gate]\nfigures = ["gpu_joy"]\n', encoding="utf-8")
    _one_line_error(run_cli("gate", good, good, "-c", str(bad), cwd=tmp_path), "gpu_joy")
    bad.write_text("[gate.thresholds]\ngpu_busy = -1\n", encoding="utf-8")
    _one_line_error(run_cli("gate", good, good, "-c", str(bad), cwd=tmp_path),
                    "gate.thresholds.gpu_busy")


def test_testbed_mismatch_exits_2_unless_allowed(recordings: dict[str, Path],
                                                 tmp_path: Path) -> None:
    four = tmp_path / "four"
    made = run_cli("simulate", "healthy", "--seed", "5", "--duration", DURATION, "--gpus", "4",
                   "-o", str(four))
    assert made.returncode == 0
    config = str(_short_config(tmp_path))
    _one_line_error(run_cli("gate", str(recordings["healthy1"]), str(four), "-c", config,
                            cwd=tmp_path), "testbed differs", "8 GPU(s)", "4 GPU(s)")
    allowed = run_cli("gate", str(recordings["healthy1"]), str(four), "-c", config,
                      "--allow-testbed-mismatch", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
