"""What an importer needs to know that a file may not say (time zone, host name, field list)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_DECOMPRESSED = 8 * 1024**3  # 8 GiB: a 24 h x 64 GPU log is ~1 GB, a bomb is more


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Options for importers; every field has a default that guesses nothing about this machine.

    host: host name for formats that carry none (nvidia-smi, dmon); default: the file name
      without its extensions.
    timezone: the zone of naive local timestamps (nvidia-smi CSV, dmon -o T); default UTC.
    fields: the --query-gpu field list of a `noheader` nvidia-smi CSV.
    start: ISO time of the first row of a dmon log without timestamps; default: the file's
      modification time minus the rows it covers.
    interval_s: seconds between rows of a log without timestamps (dmon -d, dcgmi dmon -d / 1000).
    max_decompressed_bytes: a gzip file stops with an error past this many bytes.
    """

    host: str | None = None
    timezone: str = "UTC"
    fields: tuple[str, ...] | None = None
    start: str | None = None
    interval_s: float | None = None
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED
