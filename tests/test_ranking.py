"""Order by cost, and tell one story when one finding explains another."""

from __future__ import annotations

import pytest

from profiler.engine import Finding
from profiler.ranking import rank, total_lost


def F(id: str, entities: tuple[str, ...], lost: float | None, severity: str = "warning",
      hardware: bool = False) -> Finding:
    return Finding(entities=entities, gpu_time_lost=lost, id=id, title=id, severity=severity,
                   hardware_error=hardware)  # type: ignore[arg-type]


def test_order_is_severity_then_gpu_time_lost() -> None:
    found = [F("a", ("n/gpu0",), 0.06), F("b", ("n/gpu0",), 0.3, "critical"),
             F("c", ("n/gpu0",), 0.1), F("d", ("n/gpu1",), None, "critical", hardware=True),
             F("e", ("n/gpu0",), 0.01, "info")]
    assert [f.id for f in rank(found)] == ["b", "d", "c", "a", "e"]


def test_a_throttled_straggler_is_explained_and_its_cause_moves_up() -> None:
    straggler = F("straggler", ("node1/gpu3",), 0.3, "critical")
    thermal = F("thermal-throttling", ("node1/gpu3",), 0.04, "info")
    unrelated = F("tensor-cores-unused", ("node1/gpu0",), 0.1)
    ranked = rank([unrelated, thermal, straggler])
    assert [f.id for f in ranked] == ["thermal-throttling", "straggler", "tensor-cores-unused"]
    assert ranked[1].explained_by == "thermal-throttling"
    assert "because it is thermally throttled" in ranked[1].notes[0]
    assert "straggler" in ranked[0].notes[0] and "together ~34 %" in ranked[0].notes[0]
    # The cause carries the pair's cost: 4 % own + 30 % of peers waiting is critical.
    assert ranked[0].severity == "critical" and ranked[0].gpu_time_lost == 0.04
    assert total_lost(ranked) == pytest.approx(0.3 + 0.04 + 0.1)


def test_a_straggler_on_another_gpu_is_not_explained() -> None:
    ranked = rank([F("straggler", ("node1/gpu3",), 0.3), F("thermal-throttling", ("node1/gpu2",),
                                                          0.04)])
    assert all(f.explained_by is None for f in ranked)
    assert [f.severity for f in ranked] == ["warning", "warning"]


def test_a_straggler_host_is_explained_by_its_swapping() -> None:
    ranked = rank([F("straggler", ("node2",), 0.2), F("host-swap-storm", ("node2",), 0.1)])
    assert ranked[1].explained_by == "host-swap-storm"


def test_total_lost_is_capped_at_one() -> None:
    assert total_lost([F("a", ("x",), 0.8), F("b", ("x",), 0.7)]) == 1.0
