"""Type Persian into the real kiosk's staff-name box on its own on-screen keyboard, as a branch head does.

Run as `python tests/ui/drive_typing.py STATE OUT PIN LANG`; prints one JSON object: after each step the
box's logical text, its caret, and the line it draws. Keys are touched on the on-screen keyboard; the
arrow and End keys come from a keyboard (a technician's, or the box's own caret after a touch).
Used by tests/ui/test_typing.py under Xvfb, and for the README's screenshot of typed Persian.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from person import Wait, keyboard_shown, keypad, on_screen_keys, touch  # noqa: E402
from steps import Step, run_and_report, screenshot  # noqa: E402

RIGHT, END = 275, 279


def key(code: int) -> None:
    """A key pressed and released on a keyboard."""
    EventLoop.window.dispatch("on_key_down", code, 0, None, [])
    EventLoop.window.dispatch("on_key_up", code, 0)


def main() -> None:
    from kiosk.ui.run import build
    state, out, pin, lang = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    kiosk = build(state, simulate=True, lang=lang, profile="test", network=False)
    app = kiosk.app
    results: list[dict[str, Any]] = []
    errors: list[str] = []

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def box() -> Any:
        return view("staff").ids.name

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen)

    def to_staff() -> Iterator[Wait]:
        keypad(view("sign_in").ids.keypad, pin)
        touch(view("sign_in").ids.submit)
        yield lambda: on("ready")
        touch(view("ready").ids.staff)
        yield lambda: on("staff")
        touch(box())
        yield lambda: bool(box().focus) and keyboard_shown() is not None

    def keys(text: str, then: Callable[[], None] | None = None) -> Callable[[], Iterator[Wait]]:
        def act() -> Iterator[Wait]:
            if then is not None:
                then()
                yield None
            yield from on_screen_keys(text)
        return act

    def back_key() -> Iterator[Wait]:
        board = keyboard_shown()
        touch(board.keys()["back"])
        yield None

    def two_right() -> None:
        key(RIGHT)
        key(RIGHT)

    def typed(text: str) -> Callable[[], bool]:
        return lambda: bool(box().text == text)

    steps: list[Step] = [
        ("staff", to_staff, lambda: on("staff") and keyboard_shown() is not None, 30),
        ("typed", keys("سلام"), typed("سلام"), 30),
        # The caret two places back (the right arrow goes towards the start in Persian), a letter typed there.
        ("inserted", keys("ب", then=two_right), typed("سلبام"), 30),
        ("backspace", back_key, typed("سلام"), 30),
        ("digits", keys(" ۱۴۰۵", then=lambda: key(END)), typed("سلام ۱۴۰۵"), 30),
        ("zwnj", keys(" می\u200cشود"), typed("سلام ۱۴۰۵ می\u200cشود"), 30),
    ]

    def record(name: str, reached: bool, number: int) -> None:
        results.append({"step": name, "ok": reached, "text": box().text, "cursor": int(box().cursor),
                        "drawn": box().drawn_text})
        screenshot(str(out / f"typing-{lang}-{number:02d}-{name}.png"))

    run_and_report(app, steps, record, kiosk, results, errors, settle=0.1)


if __name__ == "__main__":
    main()
