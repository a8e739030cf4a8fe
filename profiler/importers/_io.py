"""Opening untrusted files: gzip by magic bytes, bounded decompression, streamed text."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import IO, cast

from profiler.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 64 * 1024


class BoundedReader(io.RawIOBase):
    """A binary stream that raises InputError once more than `limit` bytes were read from it."""

    def __init__(self, inner: IO[bytes], limit: int, source: str) -> None:
        self._inner = inner
        self._limit = limit
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        try:
            data = self._inner.read(len(view))
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(self._source, f"corrupt or truncated gzip data: {e}") from None
        n = len(data)
        self.count += n
        if self.count > self._limit:
            raise InputError(self._source, f"decompresses to more than {self._limit} bytes "
                             "(limit: --max-decompressed); refusing a possible gzip bomb")
        view[:n] = data
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False


def open_binary(path: Path, limit: int) -> IO[bytes]:
    """The file's bytes, decompressed if it is gzip (by content), at most `limit` of them."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror or e}") from None
    if raw.read(2) != GZIP_MAGIC:
        raw.seek(0)
        return raw
    raw.seek(0)
    reader = BoundedReader(cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), limit,
                           str(path))
    return io.BufferedReader(reader, buffer_size=1 << 20)


def open_text(path: Path, limit: int) -> IO[str]:
    """The file as text lines (UTF-8, undecodable bytes replaced), streamed, never loaded whole."""
    return io.TextIOWrapper(open_binary(path, limit), encoding="utf-8", errors="replace",
                            newline=None)


def head_text(path: Path, size: int = HEAD_BYTES) -> str:
    """The first `size` decompressed bytes as text, for format detection; '' if unreadable."""
    if not path.is_file():
        return ""
    try:
        with open(path, "rb") as f:
            raw = f.read(max(size, 1 << 20))
    except OSError:
        return ""
    if raw[:2] == GZIP_MAGIC:  # what decompresses before a corrupt tail still identifies it
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, size)
        except zlib.error:
            return ""
    return raw[:size].decode("utf-8", errors="replace")


def file_label(path: Path) -> str:
    """The file name without its extensions: the default host name of a host-less log."""
    name = path.name
    while True:
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem or ext.lower() not in {
                "gz", "csv", "txt", "log", "prom", "om", "json", "out", "metrics"}:
            return name
        name = stem
