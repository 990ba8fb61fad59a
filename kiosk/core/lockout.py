"""How long a staff account stays locked after wrong PINs: the lock grows with every miss."""
from __future__ import annotations

from dataclasses import dataclass

FREE_TRIES = 3
FIRST_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 15 * 60.0


@dataclass(frozen=True, slots=True)
class LockState:
    """Wrong PINs in a row and the (monotonic or wall) time until which sign-in is refused."""

    failures: int = 0
    locked_until: float = 0.0

    def locked(self, now: float) -> bool:
        """True while sign-in must be refused without even checking the PIN."""
        return now < self.locked_until


def lock_seconds(failures: int) -> float:
    """No lock for the first few misses, then 30 s doubling with each miss, at most 15 minutes."""
    if failures < FREE_TRIES:
        return 0.0
    return float(min(FIRST_LOCK_SECONDS * 2 ** (failures - FREE_TRIES), MAX_LOCK_SECONDS))


def after_failure(state: LockState, now: float) -> LockState:
    """The state after one more wrong PIN."""
    failures = state.failures + 1
    return LockState(failures, now + lock_seconds(failures))


def tries_left(state: LockState) -> int:
    """Wrong PINs still allowed before the first lock (0 once locking has begun)."""
    return max(FREE_TRIES - state.failures, 0)
