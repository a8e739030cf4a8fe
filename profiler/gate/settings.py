"""Gate settings: defaults, and the `[gate]` table of profiler.toml.

    [gate]
    alpha = 0.01                 # one-sided Welch test level, per figure
    min_samples = 200            # per side, after warm-up; fewer: inconclusive
    min_blocks = 6               # block means per side needed for a verdict
    max_blocks = 10
    warmup = 0.10                # share of each recording dropped at its start ...
    warmup_min_s = 30.0          # ... but at least this many seconds ...
    warmup_min_steps = 20        # ... or steps, for step times
    windows = 8                  # windows diagnosed per side for each finding's gpu_time_lost
    window_share = 0.2           # a new finding must fire in this share of candidate windows
    fail_on = "warning"          # a new finding at or above this severity is a regression
    figures = ["gpu_busy", "gpu_busy_per_gpu", "step_time", "tensor_active",
               "nvlink_bytes", "pcie_rx_bytes", "finding_loss"]
    ignore_findings = ["lookalike-checkpoint"]
    baseline_dir = ".profiler/baselines"

    [gate.thresholds]            # practical floor per figure family: how much worse counts
    gpu_busy = 0.03              # relative (3 % worse); finding_loss is absolute (GPU-time share)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from profiler.errors import ConfigError
from profiler.gate.figures import FAMILIES

SEVERITIES = ("info", "warning", "critical")
DEFAULT_BASELINE_DIR = ".profiler/baselines"


@dataclass(frozen=True, slots=True)
class GateSettings:
    alpha: float = 0.01
    min_samples: int = 200
    min_blocks: int = 6
    max_blocks: int = 10
    warmup: float = 0.10
    warmup_min_s: float = 30.0
    warmup_min_steps: int = 20
    windows: int = 8
    window_share: float = 0.2
    fail_on: Literal["info", "warning", "critical"] = "warning"
    figures: tuple[str, ...] = tuple(FAMILIES)
    thresholds: dict[str, float] = field(default_factory=dict)
    ignore_findings: frozenset[str] = frozenset()
    baseline_dir: str = DEFAULT_BASELINE_DIR

    def threshold(self, family: str) -> float:
        return self.thresholds.get(family, FAMILIES[family].floor)


_NUMBERS: dict[str, tuple[type, float, float]] = {
    "alpha": (float, 1e-9, 0.5),
    "min_samples": (int, 2, math.inf),
    "min_blocks": (int, 2, math.inf),
    "max_blocks": (int, 2, 10_000),
    "warmup": (float, 0.0, 0.9),
    "warmup_min_s": (float, 0.0, math.inf),
    "warmup_min_steps": (int, 0, math.inf),
    "windows": (int, 0, 1_000),
    "window_share": (float, 0.0, 1.0),
}


def gate_settings(raw: dict[str, Any], source: str) -> GateSettings:
    """Validate the `[gate]` table of a parsed profiler.toml (`raw` is the whole document)."""
    table = raw.get("gate", {})
    if not isinstance(table, dict):
        raise ConfigError(source, "gate", "must be a table")
    known = set(_NUMBERS) | {"fail_on", "figures", "thresholds", "ignore_findings",
                             "baseline_dir"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(source, f"gate.{unknown[0]}",
                          f"unknown setting (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key, (kind, low, high) in _NUMBERS.items():
        if key in table:
            values[key] = _number(table[key], kind, low, high, source, f"gate.{key}")
    if "fail_on" in table:
        if table["fail_on"] not in SEVERITIES:
            raise ConfigError(source, "gate.fail_on", f"must be one of {', '.join(SEVERITIES)}")
        values["fail_on"] = table["fail_on"]
    if "figures" in table:
        figures = _strings(table["figures"], source, "gate.figures")
        for name in figures:
            if name not in FAMILIES:
                raise ConfigError(source, "gate.figures",
                                  f"unknown figure {name!r} (known: {', '.join(FAMILIES)})")
        values["figures"] = tuple(figures)
    if "ignore_findings" in table:
        values["ignore_findings"] = frozenset(
            _strings(table["ignore_findings"], source, "gate.ignore_findings"))
    if "baseline_dir" in table:
        if not isinstance(table["baseline_dir"], str) or not table["baseline_dir"]:
            raise ConfigError(source, "gate.baseline_dir", "must be a directory path")
        values["baseline_dir"] = table["baseline_dir"]
    if "thresholds" in table:
        values["thresholds"] = _thresholds(table["thresholds"], source)
    settings = replace(GateSettings(), **values)
    if settings.min_blocks > settings.max_blocks:
        raise ConfigError(source, "gate.min_blocks", "must not exceed gate.max_blocks")
    return settings


def _thresholds(table: Any, source: str) -> dict[str, float]:
    if not isinstance(table, dict):
        raise ConfigError(source, "gate.thresholds", "must be a table of figure = floor")
    out: dict[str, float] = {}
    for name, value in table.items():
        if name not in FAMILIES:
            raise ConfigError(source, f"gate.thresholds.{name}",
                              f"unknown figure (known: {', '.join(FAMILIES)})")
        out[name] = _number(value, float, 0.0, math.inf, source, f"gate.thresholds.{name}")
    return out


def _strings(value: Any, source: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, key, "must be a list of strings")
    return list(value)


def _number(value: Any, kind: type, low: float, high: float, source: str, key: str) -> Any:
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types) or value != value:
        raise ConfigError(source, key, f"must be {'an integer' if kind is int else 'a number'}")
    if not low <= value <= high:
        raise ConfigError(source, key, f"{value} is outside [{low:g}, {high:g}]")
    return kind(value)
