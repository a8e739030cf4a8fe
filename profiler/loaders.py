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
    # Reads several recognised paths as one recording (the ranks of one job), when the format
    # spreads a recording over files.
    load_group: Callable[[Sequence[Path]], Trace] | None = None


def _defaults(load: Callable[[Path, ImportOptions | None], Trace]) -> Callable[[Path], Trace]:
    return lambda path: load(path, None)


def _pytorch_detect(path: Path) -> bool:
    from profiler.pytorch.load import detect

    return detect(path)


def _pytorch_load_group(paths: Sequence[Path]) -> Trace:
    from profiler.pytorch.load import load_group  # lazy: numpy-heavy, and orjson

    return load_group(paths)


LOADERS: list[Loader] = [
    Loader("native", is_trace, read_trace),
    Loader("pytorch", _pytorch_detect, lambda p: _pytorch_load_group([p]),
           load_group=_pytorch_load_group),
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
    """Read several recordings (hosts, windows or the ranks of one job) into one Trace; also
    returns their formats."""
    rest = [Path(p) for p in paths]
    loaded: list[tuple[Trace, str]] = []
    for loader in LOADERS:
        if loader.load_group is None:
            continue
        group = [p for p in rest if p.exists() and loader.detect(p)]
        if len(group) > 1:
            loaded.append((loader.load_group(group), loader.name))
            rest = [p for p in rest if p not in group]
    loaded += [load_one(p, options) for p in rest]
    return Trace.concat([t for t, _ in loaded]), tuple(dict.fromkeys(f for _, f in loaded))
