"""The `profiler` command: argument parsing and wiring only; the work is in profiler.api.

Exit codes: 0 done; 1 `diagnose --fail-on` found a finding at that severity, or `gate` found a
regression; 2 bad usage or bad input (one line on stderr, no traceback); 3 internal error, or an
inconclusive `gate --strict`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.status import Status

    from profiler.config import Config
    from profiler.gate import GateSettings
    from profiler.importers.options import ImportOptions
    from profiler.recorder import Progress

from profiler import __version__
from profiler.errors import InputError, ProfilerError, UsageError

app = typer.Typer(
    name="profiler",
    help="Sample, replay and diagnose GPU node bottlenecks, ranked by the GPU time they cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("profiler")
_debug = {"on": False}


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


class InfoFormat(StrEnum):
    text = "text"
    json = "json"


class RulesFormat(StrEnum):
    text = "text"
    markdown = "markdown"


# Options of the importers (files from nvidia-smi, dmon, dcgmi, Prometheus), shared by
# `diagnose` and `import`.
HostOpt = Annotated[str | None, typer.Option(
    "--host", help="Host name for logs that carry none (nvidia-smi, dmon); default: file name.")]
TimezoneOpt = Annotated[str, typer.Option(
    "--timezone", help="Zone of local timestamps without one (nvidia-smi), e.g. Europe/Paris.")]
FieldsOpt = Annotated[str | None, typer.Option(
    "--fields", help="The --query-gpu field list of an nvidia-smi CSV written with noheader.")]
FirstRowOpt = Annotated[str | None, typer.Option(
    "--first-row-time", help="Time of the first row of a log without timestamps (dmon).")]
RowIntervalOpt = Annotated[float | None, typer.Option(
    "--row-interval", help="Seconds between rows of a log without timestamps (dmon -d).")]
MaxBytesOpt = Annotated[int | None, typer.Option(
    "--max-decompressed", help="Refuse a gzip file that decompresses past this many bytes.")]


def _import_options(host: str | None, timezone: str, fields: str | None,
                    first_row_time: str | None, row_interval: float | None,
                    max_decompressed: int | None) -> ImportOptions:
    from profiler.importers.options import DEFAULT_MAX_DECOMPRESSED, ImportOptions

    if row_interval is not None and not row_interval > 0:
        raise UsageError(f"--row-interval must be more than 0, not {row_interval}")
    if max_decompressed is not None and max_decompressed <= 0:
        raise UsageError(f"--max-decompressed must be more than 0, not {max_decompressed}")
    return ImportOptions(
        host=host, timezone=timezone,
        fields=tuple(f.strip() for f in fields.split(",")) if fields else None,
        start=first_row_time, interval_s=row_interval,
        max_decompressed_bytes=max_decompressed or DEFAULT_MAX_DECOMPRESSED)
class GateFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class Severity(StrEnum):
    warning = "warning"
    critical = "critical"


def _version(value: bool) -> None:
    if value:
        out.print(f"profiler {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log to stderr; show tracebacks.")] = False,
) -> None:
    """Sample, replay and diagnose GPU node bottlenecks, ranked by the GPU time they cost."""
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s: %(message)s")
        _debug["on"] = True


def _write(text: str, output: Path | None) -> None:
    """Write a document to `output`, or to stdout (and nothing else goes to stdout)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(str(output), f"cannot write: {e.strerror or e}") from None
    err.print(f"wrote {output}", markup=False)


def _status_line(label: str) -> tuple[Status | None, Callable[[Progress], None] | None]:
    """A Rich status line on a terminal; nothing when stderr is not a TTY."""
    if not err.is_terminal:
        return None, None
    status = err.status(label)
    last = [0.0]

    def update(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25:
            last[0] = now
            status.update(f"{label} · {progress.elapsed_s:.1f} s · {progress.ticks} samples · "
                          f"profiler CPU {progress.cpu_percent:.1f} %")

    return status, update


@app.command(epilog="Example: profiler record --duration 60 --interval 0.5 --output run1")
def record(
    duration: Annotated[float | None, typer.Option(
        "--duration", "-d", help="Seconds to record; default until Ctrl-C or SIGTERM.")] = None,
    interval: Annotated[float, typer.Option(
        "--interval", "-i", help="Seconds between samples (0.05 or more).")] = 1.0,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Trace directory to write (default profile-HOST-TIME).")] = None,
    flush: Annotated[float, typer.Option(
        "--flush", help="Seconds between flushes to disk: the most a crash can lose.")] = 5.0,
) -> None:
    """Record this node's GPU and host metrics into a trace."""
    from profiler import api
    from profiler.recorder import local_host_name

    if output is None:
        output = Path(f"profile-{local_host_name()}-{time.strftime('%Y%m%d-%H%M%S')}")
    status, update = _status_line(f"Recording {local_host_name()} to {output}")
    if status is not None:
        with status:
            trace = api.record(duration_s=duration, interval_s=interval, flush_s=flush,
                               output=output, on_tick=update)
    else:
        trace = api.record(duration_s=duration, interval_s=interval, flush_s=flush,
                           output=output)
    err.print(f"wrote {output}: {trace.tick_count} samples over {trace.duration_s:.1f} s",
              markup=False)


@app.command(epilog="Example: profiler info run1")
def info(
    trace: Annotated[Path, typer.Argument(help="A trace (directory or Parquet file).")],
    fmt: Annotated[InfoFormat, typer.Option("--format", "-f", help="Output format.")] =
        InfoFormat.text,
) -> None:
    """Show what a trace holds: hosts, GPUs, metrics, what is missing and why, events."""
    from profiler.info import render_text, summarize
    from profiler.loaders import load_one

    loaded, _ = load_one(trace)
    facts = summarize(loaded)
    text = (json.dumps(facts, indent=2, default=str) + "\n" if fmt is InfoFormat.json
            else render_text(facts, str(trace)))
    _write(text, None)


@app.command(epilog="Examples: profiler diagnose    |    profiler diagnose run1 -f json -o r.json"
                     "    |    profiler diagnose --prometheus http://prom:9090 --start -1h")
def diagnose(
    traces: Annotated[list[Path] | None, typer.Argument(
        help="Recordings to diagnose; none samples this node live.")] = None,
    duration: Annotated[float, typer.Option(
        "--duration", "-d", help="Live: seconds to sample.")] = 15.0,
    interval: Annotated[float, typer.Option(
        "--interval", "-i", help="Live: seconds between samples.")] = 0.5,
    fmt: Annotated[ReportFormat | None, typer.Option(
        "--format", "-f", help="Report format (default: from --output's extension, else text).")]
        = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the report here instead of stdout.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Thresholds and rules to skip (default ./profiler.toml if "
        "present).")] = None,
    fail_on: Annotated[Severity | None, typer.Option(
        "--fail-on", help="Exit 1 when a finding at or above this severity exists.")] = None,
    gpu_hour_price: Annotated[float | None, typer.Option(
        "--gpu-hour-price", help="Price of one GPU-hour, for the money-lost line.")] = None,
    save: Annotated[Path | None, typer.Option(
        "--save", help="Live: also keep the samples as a trace here.")] = None,
    host: HostOpt = None,
    timezone: TimezoneOpt = "UTC",
    fields: FieldsOpt = None,
    first_row_time: FirstRowOpt = None,
    row_interval: RowIntervalOpt = None,
    max_decompressed: MaxBytesOpt = None,
    prometheus: Annotated[str | None, typer.Option(
        "--prometheus", help="Diagnose every matching host from this Prometheus (URL).",
        rich_help_panel="Prometheus")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="Prometheus: range start, RFC 3339 or relative (-2h).",
        rich_help_panel="Prometheus")] = None,
    end: Annotated[str, typer.Option(
        "--end", help="Prometheus: range end (default now).", rich_help_panel="Prometheus")]
        = "now",
    match: Annotated[str | None, typer.Option(
        "--match", help='Prometheus: label matchers, e.g. {cluster="a"}.',
        rich_help_panel="Prometheus")] = None,
    step: Annotated[str, typer.Option(
        "--step", help="Prometheus: resolution, e.g. 15s.", rich_help_panel="Prometheus")]
        = "15s",
    aggregate: Annotated[bool, typer.Option(
        "--aggregate", help="Prometheus: let the server average series into --points bins.",
        rich_help_panel="Prometheus")] = False,
    points: Annotated[int, typer.Option(
        "--points", help="Prometheus: bins per series with --aggregate.",
        rich_help_panel="Prometheus")] = 60,
    bearer_token_env: Annotated[str | None, typer.Option(
        "--bearer-token-env", help="Prometheus: env variable holding a bearer token.",
        rich_help_panel="Prometheus")] = None,
    bearer_token_file: Annotated[Path | None, typer.Option(
        "--bearer-token-file", help="Prometheus: file holding a bearer token.",
        rich_help_panel="Prometheus")] = None,
    basic_auth_env: Annotated[str | None, typer.Option(
        "--basic-auth-env", help="Prometheus: env variable holding user:password.",
        rich_help_panel="Prometheus")] = None,
    basic_auth_file: Annotated[Path | None, typer.Option(
        "--basic-auth-file", help="Prometheus: file holding user:password.",
        rich_help_panel="Prometheus")] = None,
    ca_file: Annotated[Path | None, typer.Option(
        "--ca-file", help="Prometheus: CA bundle to verify TLS with.",
        rich_help_panel="Prometheus")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Prometheus: do not verify the TLS certificate.",
        rich_help_panel="Prometheus")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="Prometheus: seconds per request.", rich_help_panel="Prometheus")]
        = 30.0,
    retries: Annotated[int, typer.Option(
        "--retries", help="Prometheus: retries of a failed request.",
        rich_help_panel="Prometheus")] = 2,
) -> None:
    """Rank this node's bottlenecks by the GPU time they cost, live or from recordings.

    Recordings: native traces, nvidia-smi --query-gpu CSV, nvidia-smi dmon, dcgmi dmon,
    Prometheus text/OpenMetrics or saved query JSON, and gzip of any; found from the content.
    """
    import dataclasses

    from profiler import api
    from profiler.config import DEFAULT_CONFIG_NAME, load_config
    from profiler.reports import format_for_path

    if config is None and Path(DEFAULT_CONFIG_NAME).is_file():
        config = Path(DEFAULT_CONFIG_NAME)
        err.print(f"using {config}", markup=False)
    settings = load_config(config)
    if gpu_hour_price is not None:
        if not gpu_hour_price >= 0:
            raise UsageError(f"--gpu-hour-price must be 0 or more, not {gpu_hour_price}")
        settings = dataclasses.replace(settings, gpu_hour_price=gpu_hour_price)
    chosen = fmt.value if fmt else (format_for_path(str(output)) if output else None) or "text"
    if prometheus is not None:
        if traces:
            raise UsageError("give recordings or --prometheus, not both")
        if start is None:
            raise UsageError("--prometheus needs --start (e.g. --start -1h)")
        auth = api.Auth(bearer_token_env, bearer_token_file, basic_auth_env, basic_auth_file)
        trace, source, _ = api.prometheus(
            prometheus, start, end, step=step, match=match, aggregate=aggregate, points=points,
            auth=auth, ca_file=ca_file, insecure=insecure, timeout_s=timeout, retries=retries)
    elif traces:
        trace, source = api.load(traces, _import_options(
            host, timezone, fields, first_row_time, row_interval, max_decompressed))
    else:
        status, update = _status_line("Sampling this node")
        if status is not None:
            with status:
                trace = api.record(duration_s=duration, interval_s=interval, output=save,
                                   on_tick=update)
        else:
            trace = api.record(duration_s=duration, interval_s=interval, output=save)
        source = None
    if chosen == "html" and output is None and out.is_terminal:
        raise UsageError("an HTML report goes to a file: add --output report.html")
    report = api.diagnose(trace, source, settings)
    color = output is None and chosen == "text" and out.is_terminal and not out.no_color
    _write(api.render(report, chosen, color=color, trace=trace), output)
    if fail_on is not None and _at_or_above(report.worst_severity(), fail_on.value):
        raise typer.Exit(1)


def _at_or_above(worst: str | None, floor: str) -> bool:
    order = {"info": 0, "warning": 1, "critical": 2}
    return worst is not None and order[worst] >= order[floor]


@app.command(name="import",
             epilog="Example: profiler import node1-smi.csv.gz node2-smi.csv.gz -o fleet.trace")
def import_command(
    files: Annotated[list[Path], typer.Argument(
        help="Recordings of other tools (nvidia-smi, dmon, dcgmi, Prometheus), or traces.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Trace directory to write.")],
    host: HostOpt = None,
    timezone: TimezoneOpt = "UTC",
    fields: FieldsOpt = None,
    first_row_time: FirstRowOpt = None,
    row_interval: RowIntervalOpt = None,
    max_decompressed: MaxBytesOpt = None,
) -> None:
    """Convert other tools' recordings into one profiler trace (format found from content)."""
    from profiler import api

    trace = api.import_files(files, output, _import_options(
        host, timezone, fields, first_row_time, row_interval, max_decompressed))
    err.print(f"wrote {output}: {len(trace.hosts)} host(s), {len(trace.meta.gpus)} GPU(s), "
              f"{len(trace.samples)} samples over {trace.duration_s:.0f} s", markup=False)


@app.command(epilog="Keys: q quit, g GPU pane, h host pane, Tab switch")
def top(
    interval: Annotated[float, typer.Option(
        "--interval", "-i", help="Seconds between refreshes.")] = 1.0,
    window: Annotated[float, typer.Option(
        "--window", help="Seconds of history the findings are diagnosed over.")] = 60.0,
) -> None:
    """Show a live full-screen view of this node's GPUs and host, with its top findings."""
    from collectors import default_collectors
    from profiler.top import run_top

    run_top(default_collectors(), interval_s=interval, window_s=window, console=out)


@app.command(name="rules", epilog="Example: profiler rules -f markdown > docs/rules.md")
def rules_command(
    fmt: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] =
        RulesFormat.text,
) -> None:
    """List every rule: its finding id, title, metrics needed, thresholds and documentation."""
    from profiler.rules_doc import render_rules

    _write(render_rules(fmt.value), None)


@app.command(epilog="Example: profiler simulate thermal-throttling --gpus 8 -o sample.trace")
def simulate(
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario name; see --list.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Trace directory to write.")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds simulated.")] =
        600.0,
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs per host.")] = 8,
    hosts: Annotated[int, typer.Option("--hosts", help="Hosts.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    intensity: Annotated[float, typer.Option(
        "--intensity", help="Strength of the scenario's fault, 0 (none) to 1.")] = 1.0,
    interval: Annotated[float, typer.Option("--interval", "-i", help="Seconds per sample.")] =
        1.0,
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
) -> None:
    """Write a simulated trace of a training job in a given state (healthy or a bottleneck)."""
    from profiler.simulate import SCENARIOS
    from profiler.simulate import simulate as run_simulation
    from profiler.storage import write_trace

    if list_:
        width = max(len(n) for n in SCENARIOS)
        _write("".join(f"{name:<{width}}  {s.description}\n" for name, s in SCENARIOS.items()),
               None)
        return
    if scenario is None or output is None:
        raise UsageError("simulate needs a SCENARIO and --output (or --list)")
    trace = run_simulation(scenario, duration_s=duration, gpus=gpus, hosts=hosts, seed=seed,
                           intensity=intensity, interval_s=interval)
    write_trace(trace, output)
    err.print(f"wrote {output}: {scenario}, {trace.tick_count} samples, "
              f"{len(trace.samples)} rows", markup=False)


def _gate_settings(config: Path | None) -> tuple[Config, GateSettings]:
    """profiler.toml (given, or ./profiler.toml if present) -> (Config, GateSettings)."""
    from profiler.config import DEFAULT_CONFIG_NAME, load_config
    from profiler.gate import gate_settings

    if config is None and Path(DEFAULT_CONFIG_NAME).is_file():
        config = Path(DEFAULT_CONFIG_NAME)
        err.print(f"using {config}", markup=False)
    loaded = load_config(config)
    return loaded, gate_settings(loaded.raw, loaded.path or "-")


@app.command(epilog="Examples: profiler gate base.trace cand.trace --junit gate.xml    |    "
             "profiler gate b1 b2 vs c1 c2    |    profiler gate --baseline main cand.trace")
def gate(
    sources: Annotated[list[str], typer.Argument(
        help="BASELINE CANDIDATE, or BASELINE... vs CANDIDATE..., or with --baseline only "
        "CANDIDATE...; recordings of any supported format, or a saved baseline .json.")],
    baseline: Annotated[str | None, typer.Option(
        "--baseline", "-b", help="Compare with the baseline saved under this name.")] = None,
    baseline_dir: Annotated[Path | None, typer.Option(
        "--baseline-dir", help="Where saved baselines live (default .profiler/baselines or "
        "[gate] baseline_dir).")] = None,
    fmt: Annotated[GateFormat, typer.Option("--format", "-f", help="Output on stdout.")] =
        GateFormat.table,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="Also write JUnit XML here (one test case per check).")] = None,
    markdown: Annotated[Path | None, typer.Option(
        "--markdown", help="Also write a Markdown summary here ($GITHUB_STEP_SUMMARY gets it "
        "too when set).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 3 when a check is inconclusive (too little data).")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="profiler.toml with a [gate] table (default ./profiler.toml if "
        "present).")] = None,
    allow_testbed_mismatch: Annotated[bool, typer.Option(
        "--allow-testbed-mismatch", help="Compare even when GPU models or counts differ.")] =
        False,
) -> None:
    """Fail CI when a candidate run uses the GPUs measurably worse than a baseline.

    Exit codes: 0 pass, 1 regression, 2 usage or input error, 3 inconclusive with --strict.
    """
    import os

    from profiler.gate import gate as run_gate
    from profiler.gate import load_baseline, split_sides
    from profiler.gate.render import render_json, render_junit, render_markdown, render_table

    loaded, settings = _gate_settings(config)
    base_paths, cand_paths = split_sides(sources, baseline)
    base = (load_baseline(baseline, baseline_dir or settings.baseline_dir)
            if baseline is not None else base_paths)
    result = run_gate(base, cand_paths, settings, loaded, allow_testbed_mismatch)
    if fmt is GateFormat.json:
        _write(render_json(result, strict), None)
    elif fmt is GateFormat.markdown:
        _write(render_markdown(result), None)
    else:
        render_table(result, out)
    if junit is not None:
        _write(render_junit(result), junit)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if markdown is not None or summary:
        text = render_markdown(result)
        if markdown is not None:
            _write(text, markdown)
        if summary:
            _append(text, Path(summary))
    code = result.exit_code(strict)
    if code:
        raise typer.Exit(code)


def _append(text: str, path: Path) -> None:
    """Append (never truncate: other steps wrote there too)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise InputError(str(path), f"cannot append the job summary: {e.strerror or e}") from None


baseline_app = typer.Typer(help="Save gate baselines: small summaries instead of raw traces.",
                           no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save", epilog="Example: profiler baseline save main run1.trace run2.trace")
def baseline_save(
    name: Annotated[str, typer.Argument(help="Baseline name (letters, digits, . _ -).")],
    sources: Annotated[list[str], typer.Argument(help="Recordings of any supported format.")],
    baseline_dir: Annotated[Path | None, typer.Option(
        "--baseline-dir", help="Directory (default .profiler/baselines or [gate] "
        "baseline_dir).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="profiler.toml (default ./profiler.toml if present).")] = None,
) -> None:
    """Store the statistics `profiler gate --baseline NAME` needs, with source hashes."""
    from profiler.gate import save_baseline

    loaded, settings = _gate_settings(config)
    path = save_baseline(name, sources, settings, loaded, baseline_dir)
    err.print(f"wrote {path}", markup=False)


def main() -> None:
    """Console entry point: library errors become one line and exit 2, crashes exit 3."""
    try:
        app()
    except ProfilerError as e:
        err.print(f"profiler: error: {e}", style="bold red", markup=False, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("profiler: interrupted", markup=False)
        sys.exit(130)
    except Exception as e:
        if _debug["on"]:
            raise
        err.print(f"profiler: internal error: {type(e).__name__}: {e} "
                  "(rerun with --debug for the traceback)", style="bold red", markup=False,
                  highlight=False)
        sys.exit(3)
