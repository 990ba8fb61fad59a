"""Hybrid logical clock: event order survives a wall clock that jumps back (a Pi without an RTC)."""
from __future__ import annotations

from kiosk.core.hlc import HybridClock, pack, unpack


def test_stamps_increase_even_when_the_wall_clock_goes_back() -> None:
    wall = [1_000_000]
    clock = HybridClock(lambda: wall[0])
    first = clock.tick()
    wall[0] = 5_000  # reboot without fake-hwclock: 1970 again
    second, third = clock.tick(), clock.tick()
    assert first < second < third
    assert unpack(second) == (1_000_000, 1) and unpack(third) == (1_000_000, 2)
    wall[0] = 2_000_000
    assert unpack(clock.tick()) == (2_000_000, 0)


def test_a_restarted_clock_continues_after_the_last_stamp_it_is_given() -> None:
    last = pack(9_000, 7)
    assert HybridClock(lambda: 100, last).tick() == pack(9_000, 8)


def test_observing_a_peer_stamp_moves_past_it_and_the_counter_rolls_into_the_next_millisecond() -> None:
    clock = HybridClock(lambda: 10)
    clock.observe(pack(50, 0xFFFF))
    assert clock.tick() == pack(51, 0)
    clock.observe(pack(1, 0))  # an older stamp changes nothing
    assert clock.last == pack(51, 0)
