"""Size and opening time of the HTML report for an hour of one 8-GPU node.

    python -m bench.html_report                    # thermal-throttling, 3600 s, 8 GPUs
    python -m bench.html_report straggler --duration 3600 --gpus 8 --hosts 2

Renders the report of a simulated trace, then opens it in headless Chromium (Debian package
`chromium`) three times and reads the milliseconds from navigation start until every chart is
drawn (the page records them in <body data-render-ms>). Goal: < 5 MB and < 2 s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from profiler import api
from profiler.report import SourceInfo
from profiler.simulate import simulate

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def open_ms(browser: str, page: Path, profile: Path) -> tuple[float, float]:
    """(render ms the page reports, wall seconds of the whole headless run)."""
    t0 = time.perf_counter()
    out = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    found = re.search(r'data-render-ms="(\d+)"', out.stdout)
    if not found:
        sys.exit(f"the page did not finish drawing: {out.stderr[-500:]}")
    return float(found.group(1)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="thermal-throttling")
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--hosts", type=int, default=1)
    args = parser.parse_args()
    trace = simulate(args.scenario, duration_s=args.duration, gpus=args.gpus, hosts=args.hosts,
                     seed=3)
    report = api.diagnose(trace, SourceInfo("files", files=("sim",)))
    t0 = time.perf_counter()
    html = api.render(report, "html", trace=trace)
    render_s = time.perf_counter() - t0
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html)
        size = page.stat().st_size
        print(f"{args.scenario}: {args.duration:g} s x {args.gpus} GPUs x {args.hosts} host(s), "
              f"{len(trace.samples):,} sample rows")
        print(f"html: {size / 1e6:.2f} MB, written in {render_s:.2f} s")
        if browser is None:
            print("chromium not installed: no opening time")
            return
        runs = [open_ms(browser, page, Path(tmp) / f"profile{i}") for i in range(3)]
    draw = [ms for ms, _ in runs]
    print(f"open in headless chromium: charts drawn {statistics.median(draw):.0f} ms after "
          f"navigation (median of 3; min {min(draw):.0f}), whole headless run "
          f"{statistics.median(w for _, w in runs):.1f} s")


if __name__ == "__main__":
    main()
