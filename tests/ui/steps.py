"""A driver's steps on the real app: act, wait until the expected state (or time out), record, go on."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock

# (name, action, condition to wait for, seconds to wait at most)
Step = tuple[str, Callable[[], None], Callable[[], bool], float]


def run_steps(app: Any, steps: list[Step], record: Callable[[str, bool, int], None],
              start_after: float = 0.5, settle: float = 0.0) -> None:
    """Schedule the steps on Kivy's clock; `record(name, reached, number)` after each; the app stops at the end.

    `settle` waits that long more once a condition holds, so labels re-wrap before the screenshot.
    """
    index = [0]
    deadline = [0.0]

    def check(_dt: float) -> None:
        name, _, condition, _ = steps[index[0] - 1]
        if not condition() and time.monotonic() < deadline[0]:
            Clock.schedule_once(check, 0.1)
            return
        Clock.schedule_once(lambda _d: (record(name, bool(condition()), index[0]), advance()), settle)

    def advance() -> None:
        if index[0] == len(steps):
            Clock.schedule_once(lambda _d: app.stop(), 0.2)
            return
        _, action, _, seconds = steps[index[0]]
        action()
        deadline[0] = time.monotonic() + seconds
        index[0] += 1
        Clock.schedule_once(check, 0.3)

    Clock.schedule_once(lambda _d: advance(), start_after)
