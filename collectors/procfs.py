"""Small, fast readers for /proc and /sys, shared by the host collectors.

The sampler reads these files up to ten times a second next to NVML, so a read is one system call
where it can be: a `ProcFile` is opened once and re-read from offset 0 with pread (procfs seq_file
files and sysfs attributes regenerate their text on a read at offset 0). Parsers find only the
values they need. What rarely changes (device lists, link speeds) is re-scanned every RESCAN_NS of
tick time, never on every tick.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

RESCAN_NS = 5_000_000_000
"""How often device lists and slow attributes (link speed, IB rate) are re-read, in tick time."""


class ProcFile:
    """One /proc or /sys file, kept open and re-read whole on each `read`.

    A read that fails closes the file, so the next read opens it afresh (a device that went away
    and came back gets a new sysfs node).
    """

    __slots__ = ("_fd", "_pread", "_size", "path")

    def __init__(self, path: Path | str, size: int = 4096) -> None:
        self.path = os.fspath(path)
        self._fd = -1
        self._size = size
        self._pread = True

    def read(self) -> str:
        """The file's whole text now; raises OSError when it cannot be read."""
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = self._read_at_start()
            while len(data) >= self._size:  # a full buffer may have cut the file short
                self._size *= 4
                data = self._read_at_start()
        except OSError:
            self.close()
            raise
        return data.decode("utf-8", "replace")

    def _read_at_start(self) -> bytes:
        if self._pread:
            try:
                return os.pread(self._fd, self._size, 0)
            except OSError as e:
                if e.errno != errno.ESPIPE:
                    raise
                self._pread = False
        os.lseek(self._fd, 0, os.SEEK_SET)
        return os.read(self._fd, self._size)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:  # a collector dropped without close() must not leak its files
        self.close()


def read_text(path: Path | str) -> str:
    """A small file's whole text, opened and closed once (for files read rarely)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def line_int(text: str, key: str) -> int | None:
    """The integer after `key` where `key` starts a line ("MemTotal:", "pswpin "), else None.

    Raises ValueError when the text after the key is not an integer.
    """
    i = text.find(key)
    while i > 0 and text[i - 1] != "\n":
        i = text.find(key, i + 1)
    if i < 0:
        return None
    start = i + len(key)
    end = text.find("\n", start)
    words = text[start:end if end >= 0 else len(text)].split(None, 1)
    if not words:
        raise ValueError(f"no value after {key!r}")
    return int(words[0])


def list_dir(path: Path) -> list[str]:
    """Names in a directory, sorted; empty when it does not exist or cannot be read."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


class Every:
    """Says when a period of tick time has passed, for work that must not run on every tick.

    Due on the first call, then once per `period_ns`; also due when the clock went backwards.
    """

    __slots__ = ("_last", "period_ns")

    def __init__(self, period_ns: int = RESCAN_NS) -> None:
        self.period_ns = period_ns
        self._last: int | None = None

    def due(self, now_ns: int) -> bool:
        last = self._last
        if last is None or now_ns - last >= self.period_ns or now_ns < last:
            self._last = now_ns
            return True
        return False
