"""Turning outside text cells into numbers: each distinct cell is parsed once, then indexed."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ABSENT = {"", "N/A", "n/a", "-", "NA", "Unknown", "N/A (no PMA)"}
WORDS = {"Active": 1.0, "Not Active": 0.0, "Yes": 1.0, "No": 0.0, "Enabled": 1.0,
         "Disabled": 0.0, "True": 1.0, "False": 0.0}
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_NUMERIC_WITH_UNIT = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?(\s*(%|[A-Za-z/]+))?$"
_WITH_UNIT = re.compile(r"([-+]?[0-9.eE+-]+)\s*(%|[A-Za-z/]+)")


class BadCell(ValueError):
    """A cell that is neither a number, a known word, nor an absence token."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def cell_value(text: str) -> float:
    """One cell -> float; NaN for absence tokens ("[N/A]", "N/A", "-"); BadCell otherwise."""
    s = text.strip()
    if s in ABSENT or (s.startswith("[") and s.endswith("]")):
        return np.nan
    if s in WORDS:
        return WORDS[s]
    if _NUMBER.fullmatch(s):
        return float(s)
    if s[:2].lower() == "0x":
        try:
            return float(int(s, 16))
        except ValueError:
            raise BadCell(text) from None
    m = _WITH_UNIT.fullmatch(s)
    if m and _NUMBER.fullmatch(m.group(1)):
        return float(m.group(1))
    raise BadCell(text)


def parse_column(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int | None, str]:
    """Floats for a string column; the first row holding a bad cell (or None) and that cell."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    lookup, bad = _parse_words(encoded.dictionary)
    words = encoded.dictionary
    idx = encoded.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
    if bad:
        rows = np.flatnonzero(np.isin(idx, list(bad)))
        first = int(rows[0])
        return lookup[idx], first, str(words[int(idx[first])].as_py()).strip()
    return lookup[idx], None, ""


def _parse_words(words: pa.Array) -> tuple[np.ndarray, set[int]]:
    """Floats of distinct cells: plain numbers (with a unit) in one vectorized pass, the rest
    (words, hex, absence tokens) one by one. The extra last slot is NaN, for nulls."""
    lookup = np.full(len(words) + 1, np.nan, dtype="float64")
    text = pc.utf8_trim_whitespace(words.cast(pa.string()))
    numeric = pc.fill_null(pc.match_substring_regex(text, _NUMERIC_WITH_UNIT), False)
    mask = numeric.to_numpy(zero_copy_only=False)
    if mask.any():
        digits = pc.replace_substring_regex(pc.filter(text, numeric), r"\s*[A-Za-z%/]+$", "")
        lookup[:-1][mask] = pc.cast(digits, pa.float64()).to_numpy(zero_copy_only=False)
    bad: set[int] = set()
    rest = np.flatnonzero(~mask)
    for i, w in zip(rest, pc.take(text, pa.array(rest)).to_pylist(), strict=True):
        try:
            lookup[i] = cell_value(w if w is not None else "")
        except BadCell:
            bad.add(int(i))
    return lookup, bad


def first_text(column: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> str | None:
    """The first non-absent text among `rows` of a string column (identity fields)."""
    values = column.take(pa.array(rows[: 64])).to_pylist() if len(rows) else []
    for v in values:
        if v is not None:
            s = str(v).strip()
            if s and s not in ABSENT and not (s.startswith("[") and s.endswith("]")):
                return s
    return None
