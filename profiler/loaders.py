"""Files in -> one Trace. Each loader recognises its format from the content, not the name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import InputError
from profiler.storage import is_trace, read_trace
from profiler.trace import Trace


@dataclass(frozen=True, slots=True)
class Loader:
    name: str
    detect: Callable[[Path], bool]
    load: Callable[[Path], Trace]


LOADERS: list[Loader] = [Loader("native", is_trace, read_trace)]


def load_one(path: str | Path) -> tuple[Trace, str]:
    """Read one file or trace directory with the first loader that recognises it."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "no such file or directory")
    for loader in LOADERS:
        if loader.detect(p):
            return loader.load(p), loader.name
    known = ", ".join(loader.name for loader in LOADERS)
    raise InputError(str(p), f"not a recognised recording (formats read: {known})")


def load_many(paths: Sequence[str | Path]) -> tuple[Trace, tuple[str, ...]]:
    """Read several recordings (hosts or windows) into one Trace; also returns their formats."""
    loaded = [load_one(p) for p in paths]
    return Trace.concat([t for t, _ in loaded]), tuple(dict.fromkeys(f for _, f in loaded))
