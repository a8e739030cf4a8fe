"""Rates: counter deltas into per-second rates, with resets and declared-width wraps."""

from __future__ import annotations

from collectors.base import Rates


def test_first_reading_gives_nothing_then_delta_over_time() -> None:
    rates = Rates()
    assert rates.rate("k", 10.0, 1000.0) is None
    assert rates.rate("k", 12.0, 1500.0) == 250.0


def test_a_decrease_is_a_reset_and_gives_no_rate() -> None:
    rates = Rates()
    rates.rate("k", 0.0, 5000.0)
    assert rates.rate("k", 1.0, 10.0) is None
    assert rates.rate("k", 2.0, 110.0) == 100.0


def test_a_32_bit_counter_near_its_top_wraps_exactly() -> None:
    rates = Rates()
    rates.rate("k", 0.0, 2.0**32 - 100)
    assert rates.rate("k", 1.0, 50.0, wrap_bits=32) == 150.0


def test_a_drop_from_the_lower_half_is_a_reset_even_with_a_width() -> None:
    rates = Rates()
    rates.rate("k", 0.0, 1000.0)
    assert rates.rate("k", 1.0, 10.0, wrap_bits=32) is None


def test_a_counter_wider_than_declared_never_gives_a_negative_rate() -> None:
    rates = Rates()
    rates.rate("k", 0.0, 2.0**40)
    assert rates.rate("k", 1.0, 5.0, wrap_bits=32) is None
    rates.rate("j", 0.0, 2.0**32 - 10)
    assert rates.rate("j", 1.0, 2.0**33, wrap_bits=32) == 2.0**33 - 2.0**32 + 10


def test_non_increasing_time_gives_nothing_and_keys_can_be_forgotten() -> None:
    rates = Rates()
    rates.rate("k", 5.0, 1.0)
    assert rates.rate("k", 5.0, 2.0) is None
    rates.forget("k")
    assert rates.keys() == []
