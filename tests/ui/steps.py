"""A driver's steps on the real app: act, wait until the expected state (or time out), record, go on.

An action may take several frames (open a list, scroll it, touch an entry): it then returns an iterator
that yields what to wait for next (a condition, or None for one frame). No step waits a fixed time: each
waits for its state, up to a deadline generous enough for a loaded 2-core machine, and records whether
the state was reached.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from kivy.clock import Clock

# (name, action, condition to wait for, seconds to wait at most)
Step = tuple[str, Callable[[], object], Callable[[], bool], float]
MIN_DEADLINE = 30.0   # seconds: no step is judged on speed here (figures belong in ./dev bench)
POLL = 0.05


_SHOTS: list[str] = []    # screenshots asked for, saved at the next frame


def screenshot(path: str) -> None:
    """Save the window as the next frame draws it, before the buffers swap.

    Kivy's Window.screenshot reads the back buffer after the swap, which holds an older frame; on Xvfb it
    showed the screen before over the one after. The steps go on only once the shot is saved.
    """
    from kivy.core.window import Window

    if not _SHOTS:
        Window.bind(on_flip=_save_shots)
    _SHOTS.append(path)
    Window.canvas.ask_update()


def _save_shots(window: Any) -> None:
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

    width, height = window.size
    pixels = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    for path in _SHOTS:
        window._win.save_bytes_in_png(path, pixels, width, height)
    _SHOTS.clear()
    window.unbind(on_flip=_save_shots)


def moving(root: Any) -> bool:
    """Whether a screen change is still under way somewhere (Kivy's ScreenManager ignores touches then)."""
    from kivy.uix.screenmanager import ScreenManager

    return any(isinstance(w, ScreenManager) and w.transition.is_active for w in root.walk(restrict=True))


def run_steps(app: Any, steps: list[Step], record: Callable[[str, bool, int], None],
              start_after: float = 0.0, settle: float = 0.0, errors: list[str] | None = None) -> None:
    """Schedule the steps on Kivy's clock; `record(name, reached, number)` after each; the app stops at the end.

    With `errors`, an action that fails (a widget a person could not touch) is recorded as not reached, its
    message is put in `errors`, and the run ends there (without, the exception ends the app).

    The first step starts once the app's first frame is drawn (and `start_after` more seconds); `settle`
    waits that long more once a condition holds, so labels re-wrap before the screenshot.
    """
    index = [0]
    deadline = [0.0]
    pending: list[Iterator[Any]] = []

    def expired() -> bool:
        return time.monotonic() > deadline[0]

    def check(_dt: float) -> None:
        name, _, condition, _ = steps[index[0] - 1]
        if not condition() and not expired():
            Clock.schedule_once(check, POLL)
            return
        Clock.schedule_once(lambda _d: settled(name, condition), settle)

    def settled(name: str, condition: Callable[[], bool]) -> None:
        """Record once no screen is sliding in: a screenshot mid-change shows two screens, half each."""
        if moving(app.root) and not expired():
            Clock.schedule_once(lambda _d: settled(name, condition), POLL)
            return
        record(name, bool(condition()), index[0])
        saved()

    def saved() -> None:
        if _SHOTS and not expired():
            Clock.schedule_once(lambda _d: saved(), POLL)
            return
        advance()

    def follow(wait: Callable[[], bool] | None) -> None:
        """Run the action's next part once `wait` holds (a part that never comes true ends the step)."""
        if expired():
            pending.clear()
            Clock.schedule_once(check, 0)
            return
        if wait is not None and not wait():
            Clock.schedule_once(lambda _d: follow(wait), POLL)
            return
        if moving(app.root):
            Clock.schedule_once(lambda _d: follow(None), 0)   # a screen manager drops touches mid-transition
            return
        try:
            after = next(pending[0])
        except StopIteration:
            pending.clear()
            Clock.schedule_once(check, 0)
            return
        except AssertionError as failed:
            pending.clear()
            stop(failed)
            return
        Clock.schedule_once(lambda _d: follow(after), 0)

    def advance() -> None:
        if index[0] == len(steps):
            Clock.schedule_once(lambda _d: app.stop(), 0.2)
            return
        if moving(app.root):
            Clock.schedule_once(lambda _d: advance(), 0)
            return
        _, action, _, seconds = steps[index[0]]
        deadline[0] = time.monotonic() + max(seconds, MIN_DEADLINE)
        index[0] += 1
        try:
            result = action()
        except AssertionError as failed:
            stop(failed)
            return
        if isinstance(result, Iterator):
            pending[:] = [result]
            Clock.schedule_once(lambda _d: follow(None), 0)
        else:
            Clock.schedule_once(check, 0)

    def stop(failed: AssertionError) -> None:
        """The step could not be done as a person would: record it and end the run."""
        if errors is None:
            raise failed
        errors.append(f"{steps[index[0] - 1][0]}: {failed}")
        record(steps[index[0] - 1][0], False, index[0])
        index[0] = len(steps)
        Clock.schedule_once(lambda _d: app.stop(), 0.2)

    def begin(frames: int) -> None:
        """A few frames after the app is built, so every widget has its place before the first touch."""
        if app.root is None or frames > 0:
            Clock.schedule_once(lambda _d: begin(frames - 1 if app.root is not None else frames), 0)
            return
        Clock.schedule_once(lambda _d: advance(), start_after)

    Clock.schedule_once(lambda _d: begin(3), 0)


def run_and_report(app: Any, steps: list[Step], record: Callable[[str, bool, int], None], closing: Any,
                   results: list[dict[str, Any]], errors: list[str], **when: float) -> None:
    """Run the steps on the app (`when`: run_steps' start_after and settle), close `closing` however the app
    ended, then print the one JSON line a driver reports: its results and the touches that failed."""
    import json

    run_steps(app, steps, record, errors=errors, **when)
    try:
        app.run()
    finally:
        closing.close()
    print(json.dumps({"results": results, "errors": errors}, ensure_ascii=False))
