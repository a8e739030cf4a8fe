"""`profiler gate`: does a candidate recording use the hardware worse than a baseline?

    from profiler.gate import GateSettings, gate
    result = gate(["base.trace"], ["cand.trace"], GateSettings())
    result.exit_code()          # 0 pass, 1 regression, 3 inconclusive under strict

Each side is one or more recordings of any format profiler.api.load reads, or a baseline
summary saved with `profiler baseline save` (see save_baseline). Method: docs/ci.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from profiler.config import Config
from profiler.errors import InputError, UsageError
from profiler.gate.compare import (
    PASS,
    REGRESSION,
    UNDECIDED,
    USAGE_ERROR,
    Check,
    GateResult,
    compare,
)
from profiler.gate.settings import GateSettings, gate_settings
from profiler.gate.summary import Side, load_side, side_from_paths, summarize_side, write_summary

__all__ = ["PASS", "REGRESSION", "UNDECIDED", "USAGE_ERROR", "Check", "GateResult",
           "GateSettings", "baseline_path", "gate", "gate_settings", "save_baseline",
           "split_sides"]

SEPARATOR = "vs"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def split_sides(args: Sequence[str], baseline_name: str | None) -> tuple[list[str], list[str]]:
    """Positional arguments -> (baseline sources, candidate sources).

    `B C`, `B1 B2 vs C1 C2`, or with --baseline NAME every argument is a candidate source."""
    args = list(args)
    if baseline_name is not None:
        if SEPARATOR in args:
            raise UsageError(f"with --baseline, give only the candidate's recordings (no "
                             f"'{SEPARATOR}')")
        if not args:
            raise UsageError("gate needs the candidate's recordings")
        return [], args
    if SEPARATOR in args:
        at = args.index(SEPARATOR)
        base, cand = args[:at], args[at + 1:]
        if not base or not cand or SEPARATOR in cand:
            raise UsageError(f"write BASELINE... {SEPARATOR} CANDIDATE..., each side at least "
                             "one recording")
        return base, cand
    if len(args) != 2:
        raise UsageError(f"gate needs BASELINE CANDIDATE (or BASELINE... {SEPARATOR} "
                         f"CANDIDATE..., or --baseline NAME CANDIDATE...); got {len(args)} "
                         "argument(s)")
    return [args[0]], [args[1]]


def baseline_path(name: str, directory: str | os.PathLike[str]) -> Path:
    """Where the baseline NAME lives: DIRECTORY/NAME.json. Names are plain words, not paths."""
    if not _NAME.match(name):
        raise UsageError(f"baseline name {name!r}: use letters, digits, '.', '_' or '-' "
                         "(no path separators)")
    return Path(directory) / f"{name}.json"


def gate(baseline: Sequence[str | os.PathLike[str]] | Side,
         candidate: Sequence[str | os.PathLike[str]], settings: GateSettings,
         config: Config | None = None, allow_testbed_mismatch: bool = False) -> GateResult:
    """Compare a candidate's recordings with a baseline (recordings, or a loaded Side)."""
    # Read both sides before the (slower) diagnosis, so bad input on either side fails at once.
    base_input = baseline if isinstance(baseline, Side) else load_side(baseline)
    cand_input = load_side(candidate)
    base = summarize_side(base_input, settings, config)
    cand = summarize_side(cand_input, settings, config)
    return compare(base, cand, settings, allow_testbed_mismatch)


def load_baseline(name: str, directory: str | os.PathLike[str]) -> Side:
    from profiler.gate.summary import read_summary

    path = baseline_path(name, directory)
    if not path.is_file():
        raise InputError(str(path), f"no saved baseline {name!r} (save one with `profiler "
                         f"baseline save {name} RECORDING...`)")
    return read_summary(path)


def save_baseline(name: str, sources: Sequence[str | os.PathLike[str]], settings: GateSettings,
                  config: Config | None = None,
                  directory: str | os.PathLike[str] | None = None) -> Path:
    """Summarize recordings and store the summary as DIRECTORY/NAME.json."""
    path = baseline_path(name, directory if directory is not None else settings.baseline_dir)
    if not sources:
        raise UsageError("baseline save needs at least one recording")
    side = side_from_paths(sources, settings, config)
    write_summary(side, path)
    return path
