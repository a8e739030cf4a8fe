"""Times given by a person: RFC 3339 / ISO 8601, Unix seconds, "now", or relative ("-2h")."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd

from profiler.errors import UsageError

_RELATIVE = re.compile(r"(?:now)?\s*([-+])\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_time(text: str, *, option: str, now: float | None = None) -> float:
    """Seconds since the epoch (UTC) of `text`; UsageError naming `option` when unreadable.

    Naive ISO times are UTC. Relative forms count from `now` (default: the clock).
    """
    s = text.strip()
    now = time.time() if now is None else now
    if s.lower() == "now":
        return now
    m = _RELATIVE.fullmatch(s.lower())
    if m:
        sign = -1.0 if m.group(1) == "-" else 1.0
        return now + sign * float(m.group(2)) * _UNIT_S[m.group(3)]
    try:
        return float(s)
    except ValueError:
        pass
    try:
        ts = pd.Timestamp(s)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise UsageError(f"{option}: cannot read {text!r} as a time (RFC 3339 like "
                         "2026-07-14T08:00:00Z, Unix seconds, 'now' or '-2h')")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return float(ts.value) / 1e9


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?")


def parse_duration(text: str, *, option: str) -> float:
    """Seconds of "15s", "1m", "0.5", "2h"; UsageError naming `option` when unreadable."""
    m = _DURATION.fullmatch(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{option}: {text!r} is not a duration like 15s, 1m or 30")
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


def local_to_utc_ns(naive: pd.DatetimeIndex, tz: str, source: str) -> np.ndarray:
    """Naive local times in zone `tz` -> int64 ns UTC; InputError for an unknown zone.

    Times that a DST change skips move forward; the repeated hour is NaT (int64 min).
    """
    from profiler.errors import InputError

    try:
        local = naive.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    except Exception as e:  # zoneinfo and pytz raise several types for an unknown zone
        raise InputError(source, f"unknown time zone {tz!r} (--timezone): {e}") from None
    return np.asarray(local.tz_convert("UTC").as_unit("ns").asi8, dtype="int64")
