"""A throwaway real Prometheus on 127.0.0.1: backfill with promtool, start, wait, stop by PID.

Recipe from ../shared/reference/prometheus-testing.md (verified on Debian's 2.42).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

NO_SCRAPE = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"


def binaries() -> tuple[str, str] | None:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    return (prom, tool) if prom and tool else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def backfill(openmetrics: Path, datadir: Path, max_block: str = "24h") -> None:
    tools = binaries()
    if tools is None:
        raise RuntimeError("promtool not found")
    subprocess.run([tools[1], "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                    f"--max-block-duration={max_block}", str(openmetrics), str(datadir)],
                   check=True, capture_output=True)


def start(datadir: Path, timeout: float = 60.0, extra: tuple[str, ...] = ()
          ) -> tuple[subprocess.Popen[bytes], str]:
    """Start Prometheus on a free loopback port over `datadir`; (process, base URL)."""
    tools = binaries()
    if tools is None:
        raise RuntimeError("prometheus not found")
    cfg = datadir / "prometheus.yml"
    cfg.write_text(NO_SCRAPE)
    for _attempt in range(3):  # the free port can be taken before prometheus binds it
        port = free_port()
        with open(datadir / "prometheus.log", "wb") as log:
            proc = subprocess.Popen(
                [tools[0], f"--config.file={cfg}", f"--storage.tsdb.path={datadir}",
                 f"--web.listen-address=127.0.0.1:{port}",
                 "--storage.tsdb.retention.time=100y", *extra],
                stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return proc, base
            except OSError:
                pass
            time.sleep(0.02)
        stop(proc)
        if "address already in use" not in (datadir / "prometheus.log").read_text():
            break
    raise RuntimeError(f"prometheus did not become ready; see {datadir / 'prometheus.log'}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM exactly the process we started; SIGKILL it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
