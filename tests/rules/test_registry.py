"""rules/__init__.py imports every rule module by name, and every rule is documented."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

import rules
from profiler.engine import DOC_HEADINGS, RULES

INIT = Path(rules.__file__)


def _imported_by_init() -> set[str]:
    tree = ast.parse(INIT.read_text())
    names: set[str] = set()
    for node in tree.body:
        relative = isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
        if isinstance(node, ast.ImportFrom) and (node.module == "rules" or relative):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name.removeprefix("rules.") for alias in node.names
                         if alias.name.startswith("rules."))
    return names


def test_every_rule_module_is_imported_by_the_package() -> None:
    modules = {m.name for m in pkgutil.iter_modules(rules.__path__)
               if not m.name.startswith("_")}
    missing = sorted(modules - _imported_by_init())
    assert not missing, f"add to rules/__init__.py: {missing}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_module_is_named_after_its_id(rule_id: str) -> None:
    spec = RULES[rule_id]
    assert spec.func.__module__ == "rules." + rule_id.replace("-", "_")
    assert spec.func.__name__ == rule_id.replace("-", "_")


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_docstring_has_every_heading_and_thresholds_cite_a_source(rule_id: str) -> None:
    spec = RULES[rule_id]
    for heading in DOC_HEADINGS:
        assert heading in spec.doc
    for name, threshold in spec.thresholds.items():
        assert len(threshold.source) > 30, f"{rule_id}.{name}: cite where the number comes from"
