"""The HTML report in a real headless browser: it loads offline, draws, shows the findings."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from profiler import api
from profiler.report import SourceInfo

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
                  "--log-level=0", "--virtual-time-budget=8000")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run must apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, timeout=120)


def png_is_blank(path: Path) -> bool:
    """Decompress the PNG's image data; a blank page's filtered rows are nearly all one byte."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels[: 4_000_000])) < 16


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    simulate = pytest.importorskip("profiler.simulate").simulate
    trace = simulate("thermal-throttling", duration_s=3600, gpus=8, seed=3)
    report = api.diagnose(trace, SourceInfo("files", files=("sim",)))
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(api.render(report, "html", trace=trace))
    return path, report.findings[0].title if report.findings else ""


def test_report_is_self_contained_and_small(report_file: tuple[Path, str]) -> None:
    path, _ = report_file
    html = path.read_text()
    assert path.stat().st_size < 5_000_000
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no network references"


def test_report_loads_without_console_errors_and_shows_findings(
        report_file: tuple[Path, str], tmp_path: Path) -> None:
    path, headline = report_file
    result = run_chromium(tmp_path, "--dump-dom", path.as_uri())
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert 'data-rendered="ok"' in result.stdout
    assert headline and headline in result.stdout
    assert result.stdout.count("class=\"uplot") >= 5


def test_screenshot_is_not_blank(report_file: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = report_file
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, "--window-size=1400,2000", f"--screenshot={shot}", path.as_uri())
    assert shot.exists() and not png_is_blank(shot)


def test_pytorch_trace_report_shows_rank_bars_and_the_timeline(tmp_path: Path) -> None:
    trace_file = (Path(__file__).resolve().parents[2] / "shared" / "traces" / "kineto_tb"
                  / "resnet50_num_workers_0" / "worker0.1623143089861.pt.trace.json.gz")
    if not trace_file.exists():
        pytest.skip("../shared/traces is absent: real PyTorch traces are read from there")
    trace, source = api.load([trace_file])
    page = tmp_path / "torch.html"
    page.write_text(api.render(api.diagnose(trace, source), "html", trace=trace))
    result = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert [line for line in result.stderr.splitlines() if ":CONSOLE" in line] == []
    assert 'data-rendered="ok"' in result.stdout
    assert result.stdout.count("class=\"bar\"") == 1  # one rank
    assert "step 177.6 ms" in result.stdout
    assert "GPU busy (from the profiler timeline)" in result.stdout
