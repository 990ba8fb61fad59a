"""Lock-out policy: a few free misses, then a lock that doubles, capped."""
from __future__ import annotations

from kiosk.core.lockout import FREE_TRIES, LockState, after_failure, lock_seconds, tries_left


def test_the_lock_grows_with_each_miss_and_is_capped() -> None:
    assert [lock_seconds(n) for n in range(FREE_TRIES)] == [0.0] * FREE_TRIES
    assert [lock_seconds(n) for n in (3, 4, 5)] == [30.0, 60.0, 120.0]
    assert lock_seconds(40) == 15 * 60.0


def test_state_after_misses() -> None:
    state = LockState()
    for expected_left in (2, 1, 0):
        state = after_failure(state, now=100.0)
        assert tries_left(state) == expected_left
    assert state.locked(100.0 + 29.9) and not state.locked(100.0 + 30.0)
