"""profiler.toml: overrides validated against the registry, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.config import load_config
from profiler.engine import RULES
from profiler.errors import ConfigError


def some_rule_with_a_threshold() -> tuple[str, str, tuple[float, float], float]:
    import rules  # noqa: F401

    for spec in RULES.values():
        for name, th in spec.thresholds.items():
            return spec.id, name, th.bounds, th.default
    pytest.skip("no rule with thresholds registered")


def test_no_config_gives_defaults() -> None:
    config = load_config(None)
    assert config.gpu_hour_price is None and config.rules.overrides == {}


def test_overrides_price_and_disabled_rules_are_read(tmp_path: Path) -> None:
    rule_id, name, bounds, default = some_rule_with_a_threshold()
    value = default if bounds[0] == bounds[1] else min(max(default * 1.1, bounds[0]), bounds[1])
    path = tmp_path / "profiler.toml"
    path.write_text(f'[report]\ngpu_hour_price = 2.5\n[rules]\ndisable = ["{rule_id}"]\n'
                    f'[rules.{rule_id}]\n{name} = {value}\n[gate]\nanything = 1\n')
    config = load_config(path)
    assert config.gpu_hour_price == 2.5
    assert config.rules.disabled == {rule_id}
    assert config.rules.thresholds_for(RULES[rule_id]).as_dict()[name] == pytest.approx(value)


@pytest.mark.parametrize(("text", "key"), [
    ("[rules.no-such-rule]\nx = 1\n", "rules.no-such-rule"),
    ('[rules]\ndisable = ["no-such-rule"]\n', "rules.disable"),
    ("[report]\ngpu_hour_price = -1\n", "report.gpu_hour_price"),
    ('[report]\ngpu_hour_price = "cheap"\n', "report.gpu_hour_price"),
    ("[report]\ncurrency = 1\n", "report.currency"),
    ("not toml = = =\n", "-"),
])
def test_bad_config_names_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "profiler.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key and str(path) in str(info.value)


def test_unknown_threshold_lists_the_rules_thresholds(tmp_path: Path) -> None:
    rule_id, name, _, _ = some_rule_with_a_threshold()
    path = tmp_path / "profiler.toml"
    path.write_text(f"[rules.{rule_id}]\nnot_a_threshold = 1\n")
    with pytest.raises(ConfigError, match=name):
        load_config(path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
