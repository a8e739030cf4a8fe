"""Files in -> one Trace. Each loader recognises its format from the content, not the name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import InputError
from profiler.importers import IMPORTERS, ImportOptions
from profiler.storage import is_trace, read_trace
from profiler.trace import Trace


@dataclass(frozen=True, slots=True)
class Loader:
    name: str
    detect: Callable[[Path], bool]
    load: Callable[[Path], Trace]
    # Importers of other tools' formats also take ImportOptions (time zone, host name, ...).
    load_with_options: Callable[[Path, ImportOptions | None], Trace] | None = None


def _defaults(load: Callable[[Path, ImportOptions | None], Trace]) -> Callable[[Path], Trace]:
    return lambda path: load(path, None)


LOADERS: list[Loader] = [
    Loader("native", is_trace, read_trace),
    *(Loader(i.name, i.detect, _defaults(i.load), i.load) for i in IMPORTERS),
]


def load_one(path: str | Path, options: ImportOptions | None = None) -> tuple[Trace, str]:
    """Read one file or trace directory with the first loader that recognises it."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "no such file or directory")
    for loader in LOADERS:
        if loader.detect(p):
            if options is not None and loader.load_with_options is not None:
                return loader.load_with_options(p, options), loader.name
            return loader.load(p), loader.name
    known = ", ".join(loader.name for loader in LOADERS)
    raise InputError(str(p), f"not a recognised recording (formats read: {known})")


def load_many(paths: Sequence[str | Path], options: ImportOptions | None = None
              ) -> tuple[Trace, tuple[str, ...]]:
    """Read several recordings (hosts or windows) into one Trace; also returns their formats."""
    loaded = [load_one(p, options) for p in paths]
    return Trace.concat([t for t, _ in loaded]), tuple(dict.fromkeys(f for _, f in loaded))
