"""`profiler top` in a real terminal (tmux): it draws, switches panes and quits with q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.cli_helpers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def tmux_session():
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing: .ci/run must apt-get install tmux")
        pytest.skip("tmux is not installed")
    name = f"profiler-top-{uuid.uuid4().hex[:8]}"
    command = (f"cd {ROOT} && PYTHONPATH={ROOT} {sys.executable} -m profiler top --interval 0.5; "
               "echo EXITED-$?; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command],
                   check=True)

    class Session:
        def capture(self) -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], check=True,
                                  capture_output=True, text=True).stdout

        def keys(self, *keys: str) -> None:
            subprocess.run(["tmux", "send-keys", "-t", name, *keys], check=True)

        def wait_for(self, text: str, timeout: float = 30) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                screen = self.capture()
                if text in screen:
                    return screen
                time.sleep(0.2)
            raise AssertionError(f"{text!r} not on screen:\n{self.capture()}")

    try:
        yield Session()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_top_draws_switches_panes_and_quits_with_q(tmux_session) -> None:
    screen = tmux_session.wait_for("profiler top")
    assert "q quit" in screen
    screen = tmux_session.wait_for("No GPU on this host")  # this machine has no GPU
    tmux_session.keys("h")
    screen = tmux_session.wait_for("busiest core")
    assert "memory" in screen and "available of" in screen
    screen = tmux_session.wait_for("Top findings (last minute)")
    tmux_session.keys("g")
    tmux_session.wait_for("No GPU on this host")
    tmux_session.keys("q")
    screen = tmux_session.wait_for("EXITED-0")
    assert "Traceback" not in screen
