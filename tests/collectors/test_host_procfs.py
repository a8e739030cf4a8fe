"""The shared /proc readers: whole-file pread, line lookups, and the rescan clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.procfs import Every, ProcFile, line_int


def test_procfile_reads_a_file_larger_than_its_buffer_and_sees_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "stat"
    text = "".join(f"cpu{i} {i} 2 3\n" for i in range(2000))
    path.write_text(text)
    f = ProcFile(path, size=64)
    assert f.read() == text
    path.write_text("short\n")
    assert f.read() == "short\n"
    f.close()
    f.close()  # twice is harmless


def test_procfile_raises_oserror_and_reopens_later(tmp_path: Path) -> None:
    f = ProcFile(tmp_path / "missing")
    with pytest.raises(OSError):
        f.read()
    (tmp_path / "missing").write_text("back\n")
    assert f.read() == "back\n"


def test_procfile_replaces_undecodable_bytes(tmp_path: Path) -> None:
    (tmp_path / "dev").write_bytes(b"eth\xff0: 1 2\n")
    assert ProcFile(tmp_path / "dev").read() == "eth\ufffd0: 1 2\n"


def test_line_int_matches_only_at_the_start_of_a_line() -> None:
    text = "nr_pswpin 7\npswpin 3\npswpout 4\nMemTotal:  528277584 kB\n"
    assert line_int(text, "pswpin ") == 3
    assert line_int(text, "pswpout ") == 4
    assert line_int(text, "MemTotal:") == 528277584
    assert line_int("pgmajfault 9", "pgmajfault ") == 9  # no trailing newline
    assert line_int(text, "oom_kill ") is None
    with pytest.raises(ValueError):
        line_int("pswpin lots\n", "pswpin ")


def test_every_is_due_once_per_period_and_after_the_clock_goes_back() -> None:
    every = Every(5_000)
    assert [every.due(t) for t in (100, 101, 5_099, 5_100, 7_000)] == [
        True, False, False, True, False]
    assert every.due(1_000)  # the wall clock was set back
    assert not every.due(1_001)
