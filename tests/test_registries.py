"""Registries are explicit: every module is listed, every name is canonical, docs are fresh."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import collectors
import rules
from collectors import COLLECTORS, default_collectors
from profiler.catalog import METRICS
from profiler.engine import VARIANTS
from profiler.rules_doc import render_rules

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: object) -> set[str]:
    return {m.name for m in pkgutil.iter_modules(package.__path__)  # type: ignore[attr-defined]
            if not m.name.startswith("_")}


def test_every_collector_module_is_listed() -> None:
    listed = set(collectors.MODULES) | {"base", "procfs", "host"}
    helpers = {m for m in _modules(collectors) if m.startswith(("nvml_", "procfs"))}
    assert _modules(collectors) - helpers <= listed, _modules(collectors) - listed


def test_every_collector_provides_only_catalog_metrics() -> None:
    default_collectors()
    for name, cls in COLLECTORS.items():
        unknown = [m for m in cls.provides if m.split("*")[0].rstrip(".") not in METRICS
                   and not m.endswith("*")]
        assert not unknown, (name, unknown)


def test_every_rule_module_is_imported_by_the_package() -> None:
    source = (ROOT / "rules" / "__init__.py").read_text()
    for module in _modules(rules):
        assert f"import {module}" in source, f"rules/{module}.py is not imported in rules/__init__"


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    path = ROOT / "docs" / "rules.md"
    assert VARIANTS, "no rule registered"
    assert path.read_text() == render_rules("markdown"), (
        "docs/rules.md is stale: run `profiler rules -f markdown > docs/rules.md`")
