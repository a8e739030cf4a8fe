"""The JSON report: the versioned contract in docs/report-format.md."""

from __future__ import annotations

import json
from typing import ClassVar

from profiler.report import Report, report_to_dict


class JsonRenderer:
    format: ClassVar[str] = "json"
    extension: ClassVar[str] = "json"

    def render(self, report: Report, *, color: bool = False) -> str:
        return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
