"""Stream the `traceEvents` array of a Chrome-trace JSON document in bounded memory.

The document is read in chunks (decompressed on the fly). A vectorized scanner tracks string
state and nesting depth across chunks, cuts the event array at the end of its last complete
event in each chunk, and hands that batch to orjson; everything outside the event array (the
small metadata: schemaVersion, deviceProperties, distributedInfo, ...) is kept and parsed at the
end. Peak memory is one chunk plus one batch of parsed events, whatever the file's size.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import orjson

from profiler.errors import InputError

CHUNK = 1 << 18  # bytes of JSON text per batch: as fast as 1 MiB, a third of the peak memory
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))
_KEY_BEFORE = re.compile(rb'"([^"\\]{1,64})"\s*:\s*$')
GZIP_MAGIC = b"\x1f\x8b"
MAX_METADATA = 64 << 20  # bytes outside traceEvents we keep before calling the file malformed


def open_text(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip (by content, not by name)."""
    with path.open("rb") as raw:
        magic = raw.read(2)
    if magic == GZIP_MAGIC:
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


class Scanner:
    """Carries string/escape/depth state over chunk boundaries."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.backslashes = 0  # trailing backslash run of the previous chunk (inside a string)

    def scan(self, buf: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Positions of structural brackets outside strings and the depth after each."""
        a = np.frombuffer(buf, dtype=np.uint8)
        n = len(a)
        quotes = np.flatnonzero(a == _QUOTE)
        escaped = quotes[(quotes > 0) & (a[np.maximum(quotes - 1, 0)] == _BACKSLASH)]
        if len(escaped) or (self.backslashes and len(quotes) and quotes[0] == 0):
            real = quotes[[self._real(a, int(q)) for q in quotes]]  # rare: escapes present
        else:
            real = quotes
        brackets = np.flatnonzero((a == _OPEN[0]) | (a == _OPEN[1]) | (a == _CLOSE[0])
                                  | (a == _CLOSE[1]))
        inside = (real.searchsorted(brackets) + int(self.in_string)) % 2 == 1
        struct = brackets[~inside]
        opens = (a[struct] == _OPEN[0]) | (a[struct] == _OPEN[1])
        depth_after = self.depth + np.cumsum(np.where(opens, 1, -1))
        if len(depth_after):
            self.depth = int(depth_after[-1])
        self.in_string = (len(real) + int(self.in_string)) % 2 == 1
        trail = n - len(buf.rstrip(b"\\")) if n else 0
        self.backslashes = ((self.backslashes + trail if trail == n else trail)
                            if self.in_string else 0)
        return struct, depth_after

    def _real(self, a: np.ndarray, q: int) -> bool:
        """A quote is real unless an odd run of backslashes precedes it."""
        k = q - 1
        while k >= 0 and a[k] == _BACKSLASH:
            k -= 1
        run = q - 1 - k + (self.backslashes if k < 0 else 0)
        return run % 2 == 0


def stream_events(path: Path, on_batch: Callable[[list[Any]], None],
                  chunk: int = CHUNK) -> dict[str, Any]:
    """Call `on_batch` with each batch of parsed events; return the other top-level members."""
    scanner = Scanner()
    rest = bytearray()  # the document with the event array's contents cut out
    partial = bytearray()  # bytes of an event not yet closed
    in_events = False
    events_depth = -1
    offset = 0
    try:
        with open_text(path) as fh:
            for buf in _chunks(fh, chunk):
                struct, depth = scanner.scan(buf)
                if len(struct) and int(depth.min()) < 0:
                    raise InputError(str(path), f"malformed JSON near byte {offset}: unbalanced "
                                                "brackets")
                batch = bytearray()
                chars = np.frombuffer(buf, dtype=np.uint8)[struct]
                pos, i = 0, 0  # bytes before pos and brackets before i are accounted for
                while True:
                    if not in_events:
                        found = _find_events_open(buf, struct, depth, chars, i, rest)
                        if found is None:
                            rest += buf[pos:]
                            break
                        p = int(struct[found])
                        rest += buf[pos:p + 1]
                        pos, i = p + 1, found + 1
                        in_events, events_depth = True, int(depth[found])
                        continue
                    ends = np.flatnonzero(depth[i:] == events_depth - 1)
                    j = i + int(ends[0]) if len(ends) else len(struct)
                    closes = struct[i:j][(depth[i:j] == events_depth) & (chars[i:j] == _CLOSE[0])]
                    if len(closes):
                        last = int(closes[-1])
                        batch += partial
                        batch += buf[pos:last + 1]
                        partial.clear()
                        pos = last + 1
                    if j == len(struct):
                        partial += buf[pos:]
                        break
                    partial.clear()  # whitespace before the closing ']'
                    pos, i = int(struct[j]), j + 1
                    in_events = False
                if not in_events and len(rest) > MAX_METADATA:
                    raise InputError(str(path), "no traceEvents array in the first "
                                                f"{offset >> 20} MiB")
                _flush(path, batch, on_batch, offset)
                offset += len(buf)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(str(path), f"cannot read: {e}") from None
    if scanner.depth != 0 or scanner.in_string or in_events:
        raise InputError(str(path), f"truncated JSON: the document ends inside a value "
                                    f"after {offset} bytes")
    if events_depth < 0:
        raise InputError(str(path), "no traceEvents array: not a PyTorch profiler trace")
    try:
        meta = orjson.loads(bytes(rest))
    except orjson.JSONDecodeError as e:
        raise InputError(str(path), f"malformed JSON: {e}") from None
    if isinstance(meta, list):
        return {}
    if not isinstance(meta, dict):
        raise InputError(str(path), "the top-level JSON value is not an object")
    meta.pop("traceEvents", None)
    return meta


def _chunks(fh: IO[bytes], size: int) -> Iterator[bytes]:
    while True:
        buf = fh.read(size)
        if not buf:
            return
        yield buf


def _find_events_open(buf: bytes, struct: np.ndarray, depth: np.ndarray, chars: np.ndarray,
                      start: int, rest: bytearray) -> int | None:
    """Index (into struct) of the '[' that opens traceEvents, or of a top-level array."""
    cands = start + np.flatnonzero((chars[start:] == _OPEN[1]) & (depth[start:] <= 2))
    for k in cands.tolist():
        if int(depth[k]) == 1 or _is_events_key(buf, int(struct[k]), rest):
            return int(k)
    return None


def _is_events_key(buf: bytes, p: int, rest: bytearray) -> bool:
    before = buf[max(0, p - 96):p]
    if p < 96:
        before = bytes(rest[-(96 - p):]) + before
    m = _KEY_BEFORE.search(before)
    return m is not None and m.group(1) == b"traceEvents"


def parse_events(data: bytes | bytearray) -> list[Any]:
    """A run of comma-separated events cut from the event array; raises orjson.JSONDecodeError
    when it is not whole events."""
    body = bytes(data).strip().strip(b",")
    return orjson.loads(b"[" + body + b"]") if body else []


def _flush(path: Path, data: bytes | bytearray, on_batch: Callable[[list[Any]], None],
           offset: int) -> None:
    try:
        batch = parse_events(data)
    except orjson.JSONDecodeError as e:
        raise InputError(str(path), f"malformed event near byte {offset}: {e}") from None
    if batch:
        on_batch(batch)
