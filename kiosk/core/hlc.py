"""Hybrid logical clock: orders events across kiosks whose wall clocks disagree.

A Raspberry Pi has no real-time clock, so wall time alone may go backwards
after a reboot; the HLC never does, and still stays close to wall time.
Encoded as one integer: milliseconds << 16 | counter.
"""
from __future__ import annotations

from collections.abc import Callable

_COUNTER_BITS = 16
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1


def pack(millis: int, counter: int) -> int:
    """One sortable integer from wall milliseconds and a logical counter."""
    return (millis << _COUNTER_BITS) | counter


def unpack(stamp: int) -> tuple[int, int]:
    """(milliseconds, counter) of a packed stamp."""
    return stamp >> _COUNTER_BITS, stamp & _COUNTER_MASK


class HybridClock:
    """Issues strictly increasing stamps; `observe` folds in stamps seen from peers."""

    def __init__(self, now_millis: Callable[[], int], last: int = 0) -> None:
        self._now = now_millis
        self._last = last

    @property
    def last(self) -> int:
        """The most recent stamp issued or observed."""
        return self._last

    def tick(self) -> int:
        """A stamp for a new local event, greater than every earlier one."""
        millis, counter = unpack(self._last)
        wall = self._now()
        if wall > millis:
            self._last = pack(wall, 0)
        elif counter < _COUNTER_MASK:
            self._last = pack(millis, counter + 1)
        else:
            self._last = pack(millis + 1, 0)
        return self._last

    def observe(self, remote: int) -> None:
        """Move past a stamp received from another device."""
        if remote > self._last:
            self._last = remote
