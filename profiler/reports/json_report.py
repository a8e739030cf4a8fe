"""The JSON report: the versioned contract in docs/report-format.md."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from profiler.trace import Trace

from profiler.report import Report, report_to_dict


class JsonRenderer:
    format: ClassVar[str] = "json"
    extension: ClassVar[str] = "json"

    def render(self, report: Report, *, color: bool = False,
               trace: Trace | None = None) -> str:
        return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
