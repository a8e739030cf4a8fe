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
    words = encoded.dictionary.to_pylist()
    lookup = np.empty(len(words) + 1, dtype="float64")
    bad: set[int] = set()
    for i, w in enumerate(words):
        try:
            lookup[i] = cell_value(w if w is not None else "")
        except BadCell:
            lookup[i] = np.nan
            bad.add(i)
    lookup[-1] = np.nan
    idx = encoded.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
    if bad:
        rows = np.flatnonzero(np.isin(idx, list(bad)))
        first = int(rows[0])
        return lookup[idx], first, str(words[idx[first]]).strip()
    return lookup[idx], None, ""


def first_text(column: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> str | None:
    """The first non-absent text among `rows` of a string column (identity fields)."""
    values = column.take(pa.array(rows[: 64])).to_pylist() if len(rows) else []
    for v in values:
        if v is not None:
            s = str(v).strip()
            if s and s not in ABSENT and not (s.startswith("[") and s.endswith("]")):
                return s
    return None
