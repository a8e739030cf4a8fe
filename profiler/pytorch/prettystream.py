"""A faster way through pretty-printed traces: cut the event array at its indentation.

Kineto and `json.dump(indent=...)` write every event of `traceEvents` on lines of its own,
opening and closing at one indentation. A raw newline never occurs inside a JSON string, so in
such a file "newline, that many spaces, '}'" can only close an event, and the first "newline,
fewer spaces, ']'" closes the array. Cutting there replaces jsonstream's byte scanner with one
`rfind` per chunk. A cut in the wrong place cannot go unnoticed: a batch that does not start and
end on event boundaries is not a valid JSON array, and orjson refuses it. Any surprise raises
`NotPretty`, and the caller reads the file again with the scanner, which also words the errors
of files that are malformed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from profiler.errors import InputError
from profiler.pytorch.jsonstream import CHUNK, MAX_METADATA, Scanner, open_text, parse_events

_EVENTS_OPEN = re.compile(rb'"traceEvents"\s*:\s*\[\s*?(\n +)\{')


class NotPretty(Exception):
    """The file is not laid out as this reader expects: use the scanner."""


def stream_pretty(path: Path, on_batch: Callable[[list[Any]], None],
                  chunk: int = CHUNK) -> dict[str, Any]:
    """Like jsonstream.stream_events, for pretty-printed files; raises NotPretty otherwise
    (possibly after some batches: the caller must then start over)."""
    try:
        with open_text(path) as fh:
            head = bytearray()
            while (m := _EVENTS_OPEN.search(head)) is None:
                buf = fh.read(chunk)
                if not buf or len(head) > MAX_METADATA:
                    raise NotPretty
                head += buf
            bracket = head.index(b"[", m.start())
            _require_top_level_key(bytes(head[:m.start()]))
            indent = m.group(1)
            event_close = indent + b"}"
            array_close = re.compile(rb"\n {0,%d}\]" % (len(indent) - 1))
            rest = bytearray(head[:bracket + 1])
            data = bytearray(head[bracket + 1:])
            while (end := array_close.search(data)) is None:
                cut = data.rfind(event_close)
                if cut >= 0:
                    cut += len(event_close)
                    _parse_batch(data[:cut], on_batch)
                    del data[:cut]
                buf = fh.read(chunk)
                if not buf:
                    raise NotPretty
                data += buf
            _parse_batch(data[:end.start()], on_batch)
            rest += data[end.start():]
            while buf := fh.read(chunk):
                rest += buf
                if len(rest) > MAX_METADATA:
                    raise NotPretty
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(str(path), f"cannot read: {e}") from None
    try:
        meta = orjson.loads(bytes(rest))
    except orjson.JSONDecodeError:
        raise NotPretty from None
    if not isinstance(meta, dict):
        raise NotPretty
    meta.pop("traceEvents", None)
    return meta


def _require_top_level_key(before: bytes) -> None:
    """The "traceEvents" found must be a key of the top-level object, not text in a string or
    a key of a nested object."""
    scanner = Scanner()
    scanner.scan(before)
    if scanner.depth != 1 or scanner.in_string:
        raise NotPretty


def _parse_batch(data: bytes | bytearray, on_batch: Callable[[list[Any]], None]) -> None:
    try:
        batch = parse_events(data)
    except orjson.JSONDecodeError:
        raise NotPretty from None
    if batch:
        on_batch(batch)
