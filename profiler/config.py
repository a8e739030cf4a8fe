"""profiler.toml: rule thresholds and switches, report settings. Parsed with tomllib, never run.

    [report]
    gpu_hour_price = 2.50                 # currency per GPU-hour, for the money-lost line

    [rules]
    disable = ["numa-misaligned"]         # rule ids not to run

    [rules.thermal-throttling]            # threshold overrides, by rule id
    min_throttled_share = 0.10

Other top-level tables (e.g. [gate]) belong to other commands and are left alone here.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.engine import VARIANTS, RuleSettings, Threshold
from profiler.errors import ConfigError

DEFAULT_CONFIG_NAME = "profiler.toml"


@dataclass(frozen=True, slots=True)
class Config:
    rules: RuleSettings = field(default_factory=RuleSettings)
    gpu_hour_price: float | None = None
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; None gives the defaults."""
    if path is None:
        return Config()
    source = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(source, "-", "no such file") from None
    except OSError as e:
        raise ConfigError(source, "-", f"cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, "-", f"not valid TOML: {e}") from None
    import rules  # noqa: F401 - the registry must be full to validate rule ids

    return Config(rules=_rule_settings(doc.get("rules", {}), source),
                  gpu_hour_price=_price(doc.get("report", {}), source), path=source, raw=doc)


def _price(report: Any, source: str) -> float | None:
    if not isinstance(report, dict):
        raise ConfigError(source, "report", "must be a table")
    unknown = sorted(set(report) - {"gpu_hour_price"})
    if unknown:
        raise ConfigError(source, f"report.{unknown[0]}", "unknown setting")
    price = report.get("gpu_hour_price")
    if price is None:
        return None
    return _number(price, source, "report.gpu_hour_price", low=0.0)


def _number(value: Any, source: str, key: str, low: float = -math.inf,
            high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(source, key, f"must be a number, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(source, key, f"{value} is outside [{low:g}, {high:g}]")
    return float(value)


def _rule_settings(table: Any, source: str) -> RuleSettings:
    if not isinstance(table, dict):
        raise ConfigError(source, "rules", "must be a table")
    disabled = table.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise ConfigError(source, "rules.disable", "must be a list of rule ids")
    for rule_id in disabled:
        if rule_id not in VARIANTS:
            raise ConfigError(source, "rules.disable", f"unknown rule id {rule_id!r}")
    overrides: dict[str, dict[str, float]] = {}
    for rule_key, values in table.items():
        if rule_key == "disable":
            continue
        known = _thresholds_of(rule_key)
        if known is None:
            raise ConfigError(source, f"rules.{rule_key}",
                              "unknown rule id (see `profiler rules`)")
        if not isinstance(values, dict):
            raise ConfigError(source, f"rules.{rule_key}", "must be a table of thresholds")
        for name, value in values.items():
            key = f"rules.{rule_key}.{name}"
            if name not in known:
                names = ", ".join(sorted(known)) or "none"
                raise ConfigError(source, key, f"unknown threshold (this rule has: {names})")
            low, high = known[name].bounds
            overrides.setdefault(rule_key, {})[name] = _number(value, source, key, low, high)
    return RuleSettings(overrides=overrides, disabled=frozenset(disabled))


def _thresholds_of(rule_key: str) -> dict[str, Threshold] | None:
    """Thresholds of a finding id (all its variants) or of one "id@variant"; None if unknown."""
    rule_id = rule_key.split("@", 1)[0]
    specs = [s for s in VARIANTS.get(rule_id, []) if "@" not in rule_key or s.key == rule_key]
    if not specs:
        return None
    known: dict[str, Threshold] = {}
    for spec in specs:
        for name, threshold in spec.thresholds.items():
            known.setdefault(name, threshold)
    return known
