"""Times, durations and label matchers typed by a person."""

from __future__ import annotations

import pytest

from profiler.errors import UsageError
from profiler.importers.prom_live import RangeQuery, bin_width, chunks, matchers
from profiler.importers.times import parse_duration, parse_time

NOW = 1_790_000_000.0


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW), ("-2h", NOW - 7200), ("now-30m", NOW - 1800), ("+15s", NOW + 15),
    ("-1d", NOW - 86400), ("1790000000", 1_790_000_000.0),
    ("2026-09-21T14:13:20Z", 1_790_000_000.0), ("2026-09-21T16:13:20+02:00", 1_790_000_000.0),
    ("2026-09-21 14:13:20", 1_790_000_000.0),
])
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, option="--start", now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-2x", "", "2026-13-01"])
def test_parse_time_rejects_with_the_option_name(text: str) -> None:
    with pytest.raises(UsageError, match="--end"):
        parse_time(text, option="--end", now=NOW)


@pytest.mark.parametrize(("text", "expected"), [("15s", 15.0), ("1m", 60.0), ("30", 30.0),
                                                ("500ms", 0.5), ("2h", 7200.0)])
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text, option="--step") == expected


@pytest.mark.parametrize("text", ["0s", "-5s", "fast", "1 parsec"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--step"):
        parse_duration(text, option="--step")


@pytest.mark.parametrize(("text", "expected"), [
    ('{cluster="a"}', 'cluster="a"'),
    ('cluster="a", instance=~"node0[1-4].*"', 'cluster="a",instance=~"node0[1-4].*"'),
    ('{job!="x",a!~"b\\"c"}', 'job!="x",a!~"b\\"c"'),
    (None, ""), ("{}", ""),
])
def test_matchers(text: str | None, expected: str) -> None:
    assert matchers(text) == expected


@pytest.mark.parametrize("text", ["{job=node}", 'job="a" instance="b"', "up",
                                  '{a="b"} or vector(1)'])
def test_matchers_refuse_promql(text: str) -> None:
    with pytest.raises(UsageError, match="--match"):
        matchers(text)


def test_chunks_cover_the_range_on_one_grid_without_overlap() -> None:
    q = RangeQuery(0.0, 25_000.0, 1.0)
    pieces = chunks(q)
    assert pieces == [(0.0, 9999.0), (10000.0, 19999.0), (20000.0, 25000.0)]
    agg = RangeQuery(0.0, 3600.0, 15.0, aggregate=True, points=12)
    assert bin_width(agg) == 300.0 and chunks(agg) == [(0.0, 3600.0)]
