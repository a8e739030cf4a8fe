"""The per-rank GPU time breakdown of profiler timelines, as rows any renderer can lay out."""

from __future__ import annotations

from typing import Any

from profiler.report import Report

HEADER = ("rank", "GPU", "span", "idle", "compute", "non-compute", "comm hidden", "DataLoader",
          "step")  # idle/compute/non-compute: HTA's shares of the span; DataLoader: of the step


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1f} %"


def _ms(v: Any) -> str:
    return "n/a" if v is None else f"{v / 1e3:.1f} ms"


def breakdown_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per rank (empty when the report has no `breakdown`); HEADER names the columns."""
    ranks: dict[str, dict[str, Any]] = report.extras.get("breakdown") or {}
    return [(rank, str(b.get("gpu", "")), _ms(b.get("total_us")), _pct(b.get("idle_pct")),
             _pct(b.get("compute_pct")), _pct(b.get("non_compute_pct")),
             _pct(b.get("comm_overlap_pct")), _pct(b.get("dataloader_pct")),
             _ms(b.get("step_time_us")))
            for rank, b in sorted(ranks.items(), key=lambda kv: int(kv[0]))]
