"""`dcgmi dmon -e IDS [-d MS]` logs. Columns are DCGM short names (resolved to field ids through
the catalog), rows `GPU 0  100  0.812 ...`; `N/A` is missing. There is no time column: the k-th
row of a GPU is placed k x interval (ImportOptions.interval_s, default dcgmi's 1 s) after the
start. GPU-instance, switch, CPU and link rows are skipped: they are not whole GPUs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from profiler.catalog import DCGM, DCGMI_SHORT_NAMES, OutsideName
from profiler.errors import InputError
from profiler.importers._io import file_label, head_text, open_text
from profiler.importers.assemble import assemble
from profiler.importers.meta import absences, build_meta
from profiler.importers.options import ImportOptions
from profiler.importers.textlog import column_values, gpu_numbers, gpu_parts, row_times
from profiler.trace import Trace

FORMAT = "dcgmi-dmon"
BY_FIELD: dict[int, OutsideName] = {}
for _o in DCGM:
    if _o.field_id is not None:
        BY_FIELD.setdefault(_o.field_id, _o)
STOP_LINES = ("dmon was stopped", "Error", "Waiting")


def detect(path: Path) -> bool:
    lines = [ln.strip() for ln in head_text(path, 8192).splitlines() if ln.strip()]
    return bool(lines) and lines[0].startswith("#Entity") and len(lines[0].split()) > 1


def load(path: Path, options: ImportOptions | None = None) -> Trace:
    """Read a dcgmi dmon log (plain or gzip) into a Trace."""
    options = options or ImportOptions()
    source = str(path)
    names: list[str] | None = None
    rows: list[list[str]] = []
    gpus: list[str] = []
    lines: list[int] = []
    with open_text(path, options.max_decompressed_bytes) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith(STOP_LINES):
                continue
            words = line.split()
            if line.startswith("#Entity"):
                header = words[1:]
                if names is not None and header != names:
                    raise InputError(source, "the columns change mid-log", where=f"line {lineno}")
                names = header
                continue
            if words[0] == "ID" or line.startswith("#"):
                continue
            if names is None:
                raise InputError(source, "data before the #Entity header", where=f"line {lineno}")
            if words[0] != "GPU" or (len(words) >= 4 and words[2] == "LINK"):
                continue  # links, GPU instances, switches, CPUs
            if len(words) != len(names) + 2:
                raise InputError(source, f"{len(words) - 2} values, the header has {len(names)}",
                                 where=f"line {lineno}")
            gpus.append(words[1])
            rows.append(words[2:])
            lines.append(lineno)
    if names is None or not rows:
        raise InputError(source, "no GPU rows under a #Entity header")
    unknown = [n for n in names if n not in DCGMI_SHORT_NAMES]
    table = np.array(rows, dtype=object)
    gpu = gpu_numbers(gpus, "GPU", source, lines)
    ts, origin = row_times(gpu, options, path, 1.0)
    mapped = {name: (BY_FIELD[DCGMI_SHORT_NAMES[name]],
                     column_values(table[:, i].tolist(), name, source, lines))
              for i, name in enumerate(names) if name in DCGMI_SHORT_NAMES}
    samples = assemble(gpu_parts(options.host or file_label(path), gpu, ts, mapped))
    meta = build_meta(samples, source=FORMAT,
                      unavailable=absences(samples, ["dcgm"], "this dcgmi dmon log",
                                           host_data=False, noun="field"),
                      labels={"import.format": FORMAT, "import.time_origin": origin,
                              **({"import.unknown_fields": ",".join(unknown)} if unknown
                                 else {})})
    return Trace(samples, meta)
