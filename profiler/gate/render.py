"""Gate outputs: a terminal table, JSON, Markdown (GitHub job summary) and JUnit XML.

Renderers compute nothing: they read a finished GateResult and return text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import xml.etree.ElementTree as ET
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler import __version__
from profiler.gate.compare import Check, GateResult

JSON_SCHEMA_VERSION = 1
SUITE = "profiler.gate"
MARKS = {"pass": ":white_check_mark: pass", "improved": ":white_check_mark: improved",
         "regression": ":x: regression", "inconclusive": ":warning: inconclusive"}
STYLES = {"pass": "green", "improved": "green", "regression": "bold red",
          "inconclusive": "yellow"}


def _value(x: float | None, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if unit == "bytes/s":
        for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(x) >= scale:
                return f"{x / scale:.3g} {prefix}B/s"
        return f"{x:.3g} B/s"
    if unit == "ratio":
        return f"{x:.1%}"
    if unit == "s":
        return f"{x * 1e3:.4g} ms"
    return f"{x:.4g}"


def _change(c: Check) -> str:
    if c.change is None or not math.isfinite(c.change):
        return "-"
    return f"{c.change:+.1%}" if c.change_kind == "relative" else f"{c.change * 100:+.1f} pp"


def _ci(c: Check) -> str:
    if c.ci is None or not all(math.isfinite(v) for v in c.ci):
        return "-"
    if c.change_kind == "relative":
        return f"[{c.ci[0]:+.1%}, {c.ci[1]:+.1%}]"
    return f"[{c.ci[0] * 100:+.1f}, {c.ci[1] * 100:+.1f}] pp"


def headline(result: GateResult) -> str:
    n = len(result.checks)
    reg, inc = result.count("regression"), result.count("inconclusive")
    if reg:
        names = ", ".join(c.name for c in result.checks if c.verdict == "regression")
        return f"REGRESSION: {reg} of {n} checks ({names})"
    if inc:
        return f"PASS with {inc} inconclusive of {n} checks (too little data to decide)"
    return f"PASS: {n} checks, no regression"


def method_line(result: GateResult) -> str:
    return (f"test: {result.test}, alpha={result.alpha:g} per figure; a regression must also "
            "be worse than the figure's practical floor")


def render_table(result: GateResult, console: Console) -> None:
    """The readable table (figure, baseline, candidate, change, CI, p, verdict), then one line
    per check that did not simply pass, saying why."""
    if not console.is_terminal:  # a CI log: do not squeeze the table into 80 columns
        console = Console(file=console.file, width=max(console.width, 132), highlight=False,
                          no_color=console.no_color)
    ci_level = f"{1 - 2 * result.alpha:.0%} CI"
    table = Table(title=f"profiler gate: {result.baseline.label} -> {result.candidate.label}",
                  title_justify="left")
    for column in ("figure", "baseline", "candidate", "change", ci_level, "p", "verdict"):
        table.add_column(column, overflow="fold", justify="right"
                         if column in ("baseline", "candidate", "change", "p") else "left")
    for c in result.checks:
        table.add_row(c.name, _value(c.baseline, c.unit), _value(c.candidate, c.unit),
                      _change(c), _ci(c), "-" if c.p_value is None else f"{c.p_value:.2g}",
                      Text(c.verdict, style=STYLES[c.verdict]))
    console.print(table)
    for c in result.checks:
        if c.verdict != "pass" or "floor" in c.detail:
            console.print(Text(f"{c.name}: {c.detail}", style=STYLES[c.verdict]))
    console.print(Text(method_line(result), style="dim"))
    style = "bold red" if result.count("regression") else "bold green"
    console.print(Text(headline(result), style=style))


def render_markdown(result: GateResult) -> str:
    """GitHub-flavoured Markdown: one compact table, method and sources in <details>."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    ci_level = f"{1 - 2 * result.alpha:.0%} CI"
    lines = ["### profiler gate", "", f"**{cell(headline(result))}**", "",
             f"| check | verdict | baseline | candidate | change | {ci_level} | detail |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| `{cell(c.name)}` | {MARKS[c.verdict]} | {_value(c.baseline, c.unit)} | "
              f"{_value(c.candidate, c.unit)} | {_change(c)} | {_ci(c)} | {cell(c.detail)} |"
              for c in result.checks]
    lines += ["", "<details><summary>method and sources</summary>", "",
              f"- {cell(method_line(result))}",
              f"- baseline: {cell(result.baseline.label)}",
              f"- candidate: {cell(result.candidate.label)}",
              f"- profiler {__version__}", "", "</details>", ""]
    return "\n".join(lines)


def result_to_dict(result: GateResult, strict: bool = False) -> dict[str, Any]:
    def num(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(float(x), 9)

    def check(c: Check) -> dict[str, Any]:
        d = dataclasses.asdict(c)
        for key in ("baseline", "candidate", "change", "p_value", "threshold", "tau"):
            d[key] = num(d[key])
        d["ci"] = None if c.ci is None else [num(c.ci[0]), num(c.ci[1])]
        d["blocks"], d["samples"] = list(c.blocks), list(c.samples)
        return d

    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "profiler", "version": __version__},
        "verdict": result.verdict,
        "exit_code": result.exit_code(strict),
        "test": result.test,
        "alpha": result.alpha,
        "baseline": {"label": result.baseline.label, "testbed":
                     dataclasses.asdict(result.baseline.testbed),
                     "sources": [dataclasses.asdict(s) for s in result.baseline.sources]},
        "candidate": {"label": result.candidate.label, "testbed":
                      dataclasses.asdict(result.candidate.testbed),
                      "sources": [dataclasses.asdict(s) for s in result.candidate.sources]},
        "checks": [check(c) for c in result.checks],
    }


def render_json(result: GateResult, strict: bool = False) -> str:
    return json.dumps(result_to_dict(result, strict), indent=2) + "\n"


def render_junit(result: GateResult) -> str:
    """JUnit XML for GitLab, Jenkins and GitHub reporters: one <testcase> per check;
    a regression is a <failure>, an inconclusive check <skipped>."""
    checks = result.checks
    tests, fails = str(len(checks)), str(result.count("regression"))
    skips = str(result.count("inconclusive"))
    root = ET.Element("testsuites", name=SUITE, tests=tests, failures=fails, errors="0",
                      time="0")
    suite = ET.SubElement(root, "testsuite", name=SUITE, tests=tests, failures=fails,
                          errors="0", skipped=skips, time="0")
    props = ET.SubElement(suite, "properties")
    for name, value in (("test", result.test), ("alpha", f"{result.alpha:g}"),
                        ("baseline", result.baseline.label),
                        ("candidate", result.candidate.label),
                        ("profiler_version", __version__)):
        ET.SubElement(props, "property", name=name, value=value)
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=SUITE, name=c.name, time="0")
        text = f"{c.name}: {c.detail}"
        if c.verdict == "regression":
            failure = ET.SubElement(case, "failure", type="PerformanceRegression",
                                    message=text)
            failure.text = text
        elif c.verdict == "inconclusive":
            ET.SubElement(case, "skipped", message=text)
        ET.SubElement(case, "system-out").text = (
            f"{c.verdict}: baseline {_value(c.baseline, c.unit)}, candidate "
            f"{_value(c.candidate, c.unit)}, change {_change(c)}, CI {_ci(c)}; {c.detail}")
    body = ET.tostring(root, encoding="unicode")
    return "<?xml version='1.0' encoding='utf-8'?>\n" + body + "\n"
