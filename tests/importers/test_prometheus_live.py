"""`profiler diagnose --prometheus` against a REAL Prometheus backfilled with promtool."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from profiler import api
from profiler.errors import InputError
from profiler.importers.prom_http import Auth, PromClient
from profiler.importers.prom_live import CHUNK_POINTS, RangeQuery, chunks, pull
from tests.cli_helpers import run_cli
from tests.importers import promharness
from tests.importers.prom_files import FLEET, fleet, openmetrics_lines, write


@pytest.fixture(scope="session")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float, float]]:
    """(base URL, first sample time, last sample time) of a Prometheus holding 2 h of FLEET."""
    if promharness.binaries() is None:
        msg = "prometheus/promtool not found: apt-get install prometheus (ships both)"
        if promharness.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    data = tmp_path_factory.mktemp("prometheus")
    end = int(time.time()) - 4 * 3600
    end -= end % 15
    t = np.arange(end - 2 * 3600 + 15, end + 1, 15.0)
    write(data / "history.om", openmetrics_lines(fleet(FLEET, t), t))
    promharness.backfill(data / "history.om", data)
    (data / "history.om").unlink()
    proc, base = promharness.start(data)
    try:
        yield base, float(t[0]), float(t[-1])
    finally:
        promharness.stop(proc)


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def diagnose_json(*args: str) -> dict[str, object]:
    result = run_cli("diagnose", *args, "-f", "json")
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def findings(report: dict[str, object]) -> dict[str, set[str]]:
    items = report["findings"]
    assert isinstance(items, list)
    return {f["id"]: set(f["entities"]) for f in items}


@pytest.mark.parametrize("aggregate", [False, True], ids=["raw", "aggregated"])
def test_fleet_findings_name_hosts_and_gpus(prom: tuple[str, float, float],
                                            aggregate: bool) -> None:
    base, start, end = prom
    report = diagnose_json("--prometheus", base, "--start", iso(start), "--end", iso(end),
                           *(["--aggregate"] if aggregate else []))
    found = findings(report)
    assert found["thermal-throttling"] == {"node-b/gpu1"}
    assert found["host-swap-storm"] == {"node-c/gpu0", "node-c/gpu1"}
    assert set(report["hosts"]) == {"node-a", "node-b", "node-c"}  # type: ignore[arg-type]


def test_aggregation_pulls_far_fewer_points_for_the_same_numbers(
        prom: tuple[str, float, float]) -> None:
    base, start, end = prom
    raw, _, raw_stats = api.prometheus(base, iso(start), iso(end))
    agg, _, agg_stats = api.prometheus(base, iso(start), iso(end), aggregate=True, points=24)
    assert agg_stats.points * 4 < raw_stats.points and agg_stats.bytes * 3 < raw_stats.bytes
    for trace in (raw, agg):
        s = trace.samples
        util = s[(s["host"] == "node-a") & (s["entity"] == "gpu0") & (s["metric"] == "gpu.util")]
        assert util["value"].mean() == pytest.approx(0.97, abs=1e-9)
        thermal = s[(s["host"] == "node-b") & (s["entity"] == "gpu1")]
        assert set(thermal["metric"].astype(str)) >= {"gpu.clock_sm", "gpu.util"}
    shares = agg.samples[(agg.samples["metric"] == "gpu.throttle.thermal")]
    hot = shares[(shares["host"] == "node-b") & (shares["entity"] == "gpu1")]["value"]
    cool = shares[(shares["host"] == "node-a")]["value"]
    assert hot.min() == pytest.approx(1.0) and cool.max() == 0.0
    # node_cpu_seconds_total arrives as rates averaged over CPUs: user + nice
    user = raw.samples[(raw.samples["host"] == "node-a") & (raw.samples["metric"]
                                                            == "host.cpu.user")]["value"]
    assert user.median() == pytest.approx(0.3, rel=1e-3)
    # per-core metrics computed by Prometheus, as the file importer computes them
    for trace in (raw, agg):
        s = trace.samples
        a = s[(s["host"] == "node-a") & (s["entity"] == "host")]
        busiest = a[a["metric"] == "host.cpu.core_busy_max"]["value"]
        assert busiest.median() == pytest.approx(1 - 0.51 / 0.86, rel=1e-3)
        assert set(a[a["metric"] == "host.cpu.count"]["value"]) == {4.0}
        swap = s[(s["host"] == "node-c") & (s["metric"] == "host.swap_used")]["value"]
        assert swap.min() == pytest.approx(1e9) and swap.max() == pytest.approx(6e9, rel=0.01)


def test_match_selects_hosts(prom: tuple[str, float, float]) -> None:
    base, start, end = prom
    trace, _, _ = api.prometheus(base, iso(start), iso(end),
                                 match=r'{instance=~"10\\.0\\.0\\.2:.*|node-b:.*"}')
    assert trace.hosts == ["node-b"]
    assert trace.has("host.cpu.user") and trace.has("gpu.util")


def test_long_ranges_are_split_under_the_point_limit(prom: tuple[str, float, float]) -> None:
    base, start, end = prom
    q = RangeQuery(end - 3 * 3600, end, 1.0, match='{instance="10.0.0.1:9400"}')
    pieces = chunks(q)
    assert len(pieces) == 2 and all((b - a) / q.step + 1 <= CHUNK_POINTS for a, b in pieces)
    client = PromClient(base)
    trace = pull(client, q)
    s = trace.samples
    util = s[(s["entity"] == "gpu0") & (s["metric"] == "gpu.util")].sort_values("ts")
    times = util["ts"].astype("int64").to_numpy() / 1e9
    assert times[0] == start and np.all(np.diff(times) == 1.0)
    assert times[-1] == end and len(times) == end - start + 1  # both chunks, no overlap
    assert client.stats.requests == 1 + 2 * len(set(client.stats.queries))


def test_empty_range_and_missing_gpu_metrics_are_clear_errors(
        prom: tuple[str, float, float]) -> None:
    base, start, _ = prom
    result = run_cli("diagnose", "--prometheus", base, "--start", iso(start - 30 * 86400),
                     "--end", iso(start - 29 * 86400))
    assert result.returncode == 2
    assert "no dcgm-exporter or node_exporter data between" in result.stderr
    result = run_cli("diagnose", "--prometheus", base, "--start", iso(start),
                     "--end", iso(start + 600), "--match", '{job="node"}')
    assert result.returncode == 2 and "DCGM_FI_DEV_GPU_UTIL" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_selector_is_a_usage_error(prom: tuple[str, float, float]) -> None:
    base, start, _ = prom
    result = run_cli("diagnose", "--prometheus", base, "--start", iso(start), "--match",
                     "{job=node}")
    assert result.returncode == 2 and "--match" in result.stderr


def test_unreachable_server_is_one_line() -> None:
    port = promharness.free_port()
    result = run_cli("diagnose", "--prometheus", f"http://127.0.0.1:{port}", "--start", "-1h",
                     "--retries", "1", "--timeout", "2")
    assert result.returncode == 2
    assert "cannot reach Prometheus" in result.stderr and "after 2 tries" in result.stderr


class _Fake(BaseHTTPRequestHandler):
    """Answers like Prometheus: 503 for the first `fail` requests, then success."""

    fail = 0
    seen: list[str] = []  # noqa: RUF012 - test state

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != "Bearer s3cret-token":
            self.send_response(401)
            self.end_headers()
            return
        if type(self).fail > 0:
            type(self).fail -= 1
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"status": "success", "data": []}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Fake.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_bearer_token_from_env_is_sent_retried_and_never_echoed(
        fake_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "s3cret-token")
    _Fake.fail = 2
    client = PromClient(fake_server, auth=Auth(bearer_token_env="PROM_TOKEN"), backoff_s=0.01)
    assert client.api("/api/v1/label/__name__/values", {}, method="GET") == []
    assert _Fake.seen == ["Bearer s3cret-token"] * 3
    token_file = tmp_path / "token"
    token_file.write_text("wrong-token\n")
    with pytest.raises(InputError) as caught:
        PromClient(fake_server, auth=Auth(bearer_token_file=token_file)).api("/x", {})
    assert "HTTP 401" in str(caught.value) and "wrong-token" not in str(caught.value)
    result = run_cli("diagnose", "--prometheus", fake_server, "--start", "-1h",
                     "--bearer-token-file", str(token_file))
    assert result.returncode == 2 and "wrong-token" not in result.stderr + result.stdout
    result = run_cli("diagnose", "--prometheus", fake_server, "--start", "-1h",
                     "--bearer-token-env", "PROM_TOKEN", PROM_TOKEN="s3cret-token")
    assert result.returncode == 2 and "no dcgm-exporter or node_exporter data" in result.stderr
    assert "s3cret" not in result.stderr


def test_https_verifies_certificates_by_default(fake_server: str) -> None:
    url = fake_server.replace("http://", "https://")
    with pytest.raises(InputError, match=r"TLS|cannot reach"):
        PromClient(url, retries=0, timeout_s=5).api("/api/v1/query", {})
