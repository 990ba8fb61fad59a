"""A person at the screen: a finger's touch at a widget's place in the window, keys on a keyboard, a list scrolled.

A touch goes in where Kivy's own input providers put it (`EventLoop.post_dispatch_input`), at window
coordinates, so it reaches whatever the window shows there: a button that is hidden, covered, disabled
or off the screen is not pressed, and `touch` says so instead of pretending. Text is typed through the
window's keyboard events, as SDL delivers a keyboard's (or a keyboard-wedge scanner's) keys; a text box
takes them only when it has the focus a touch gave it. Call these on Kivy's thread (from the steps).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kivy.base import EventLoop
from kivy.input.motionevent import MotionEvent

Wait = Callable[[], bool] | None   # what a multi-frame action yields: a state to wait for, or None (a frame)
ENTER = 13


class Unreachable(AssertionError):
    """The widget a step meant to touch is not where a person could touch it."""


class _Finger(MotionEvent):  # type: ignore[misc]
    """One finger on the glass, at window pixels."""

    _ids = iter(range(1_000_000))

    def __init__(self, x: float, y: float) -> None:
        window = EventLoop.window
        super().__init__("person", next(self._ids), (x / window.width, y / window.height), is_touch=True,
                         type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: Any) -> None:
        self.sx, self.sy = args
        super().depack(args)

    def to(self, x: float, y: float) -> None:
        window = EventLoop.window
        self.move((x / window.width, y / window.height))


def where(widget: Any) -> tuple[float, float]:
    """The middle of `widget` in window pixels."""
    x, y = widget.to_window(widget.center_x, widget.center_y)
    return float(x), float(y)


def _visible_span(widget: Any) -> tuple[float, float]:
    """The bottom and top of the part of `widget` inside the window, in window pixels."""
    bottom, top = widget.to_window(widget.x, widget.y)[1], widget.to_window(widget.x, widget.top)[1]
    return max(float(bottom), 0.0), min(float(top), float(EventLoop.window.height))


def _on_screen(widget: Any) -> tuple[float, float]:
    window = EventLoop.window
    if widget.get_root_window() is None:
        raise Unreachable(f"{_name(widget)} is not on the window")
    if widget.disabled or widget.opacity == 0 or widget.width <= 0 or widget.height <= 0:
        raise Unreachable(f"{_name(widget)} is not shown (disabled, invisible or of no size)")
    x, y = where(widget)
    if not (0 <= x < window.width and 0 <= y < window.height):
        raise Unreachable(f"{_name(widget)} is outside the window at ({x:.0f}, {y:.0f})")
    return x, y


def _on_screen_x(widget: Any) -> float:
    if widget.get_root_window() is None or widget.disabled or widget.opacity == 0:
        raise Unreachable(f"{_name(widget)} is not shown")
    return where(widget)[0]


def touch(widget: Any) -> None:
    """Put a finger on the middle of `widget` and lift it; fail if the touch did not reach the widget."""
    x, y = _on_screen(widget)
    reached: list[bool] = []

    def seen(target: Any, finger: Any) -> None:
        if finger is current and target.collide_point(*finger.pos):
            reached.append(True)

    current = _Finger(x, y)
    widget.fbind("on_touch_down", seen)
    try:
        EventLoop.post_dispatch_input("begin", current)
        EventLoop.post_dispatch_input("end", current)
    finally:
        widget.funbind("on_touch_down", seen)
    if not reached:
        chain = []
        node = widget
        while node is not None and node is not node.get_root_window():
            chain.append(f"{type(node).__name__}{'' if node.collide_point(*node.parent.to_widget(x, y)) else '(miss)'}"
                         if node.parent is not None else type(node).__name__)
            node = node.parent
        raise Unreachable(f"a touch at ({x:.0f}, {y:.0f}) did not reach {_name(widget)}: something covers it "
                          f"({' < '.join(chain)})")


def drag(widget: Any, dy: float, steps: int = 10) -> Iterator[Wait]:
    """A finger on `widget` slides `dy` pixels up (negative: down) over a few frames, rests, and lifts: the list
    moves by about that much (slid in one instant, a list would fling to its end)."""
    x = _on_screen_x(widget)
    low, high = _visible_span(widget)
    y = (low + high) / 2 - dy / 2   # the slide stays over the widget
    finger = _Finger(x, y)
    EventLoop.post_dispatch_input("begin", finger)
    for n in range(1, steps + 1):
        finger.to(x, y + dy * n / steps)
        EventLoop.post_dispatch_input("update", finger)
        yield None
    for _ in range(6):   # at rest before lifting: no glide
        finger.to(x, y + dy)
        EventLoop.post_dispatch_input("update", finger)
        yield None
    EventLoop.post_dispatch_input("end", finger)


def type_text(text: str) -> None:
    """Keys typed on the keyboard: whatever text box has the focus takes them."""
    window = EventLoop.window
    for char in text:
        window.dispatch("on_textinput", char)


def press_enter() -> None:
    """The Enter key (a keyboard-wedge scanner ends every code with it)."""
    window = EventLoop.window
    window.dispatch("on_key_down", ENTER, 40, None, [])
    window.dispatch("on_key_up", ENTER, 40)


def type_into(box: Any, text: str) -> Iterator[Wait]:
    """Touch a text box, wait for its focus, type `text` on the keyboard, and close the on-screen keyboard
    the box opened (if it did), as a person does to reach the buttons under it."""
    touch(box)
    yield lambda: bool(box.focus)
    type_text(text)
    yield lambda: bool(box.text.endswith(text))
    yield from close_keyboard()


def keypad(pad: Any, digits: str) -> None:
    """Touch the keys of an on-screen DigitPad, one by one."""
    keys = {b.key: b for b in pad.children}
    for digit in digits:
        touch(keys[digit])


def pick(spinner: Any, value: str) -> Iterator[Wait]:
    """Open a drop-down list, scroll it with the finger until `value` shows, and touch it."""
    touch(spinner)
    dropdown = spinner._dropdown   # the list Kivy's Spinner opens over the window
    yield lambda: dropdown.parent is not None and dropdown.height > 0
    [option] = [o for o in dropdown.container.children if o.text == value]
    for _ in range(3000):   # a few drags and their glide; the step's deadline is the real bound
        before = where(option)[1]
        yield None   # two frames: the layout, or the scroll's glide after the finger left, moves on
        yield None
        middle = where(option)[1]
        if abs(middle - before) >= 1:
            continue
        low, high = _visible_span(dropdown)
        if low + option.height / 2 <= middle <= high - option.height / 2:
            break
        yield from drag(dropdown, (high - low) * 0.6 * (1 if middle < low + option.height / 2 else -1))
    touch(option)
    # Picked, and the list gone from the window: it stays there for `min_state_time` after the pick,
    # taking every touch meant for what lies under it (the next step's keypad or button).
    yield lambda: bool(spinner.text == value) and dropdown.parent is None


def _name(widget: Any) -> str:
    text = getattr(widget, "raw", "") or getattr(widget, "text", "")
    return f"{type(widget).__name__} {str(text)[:30]!r}"


def question_shown() -> Any:
    """The confirmation over the screen (kiosk/ui/confirm.py), if one is open."""
    from kiosk.ui.confirm import Confirm
    found = [w for w in EventLoop.window.children if isinstance(w, Confirm)]
    return found[0] if found else None


def answer(do: bool) -> Iterator[Wait]:
    """Wait for the confirmation, touch its answer (the one that acts, or "back"), and wait for it to close."""
    yield lambda: question_shown() is not None
    confirm = question_shown()
    touch(confirm.do_button if do else confirm.back_button)
    yield lambda: question_shown() is None


def confirmed(button: Any) -> Iterator[Wait]:
    """Touch a button that asks first, and confirm."""
    touch(button)
    yield from answer(True)


def keyboard_shown() -> Any:
    """The on-screen keyboard, if it is on the window."""
    from kiosk.ui.keyboard import shared_keyboard
    board = shared_keyboard()
    return board if board.parent is not None else None


def close_keyboard() -> Iterator[Wait]:
    """Touch the on-screen keyboard's close key, if it shows, and wait for it to go."""
    board = keyboard_shown()
    if board is not None:
        touch(board.keys()["hide"])
        yield lambda: keyboard_shown() is None


def on_screen_keys(text: str) -> Iterator[Wait]:
    """Touch `text` in, key by key, on the on-screen keyboard (switching to its digits or Latin keys as needed);
    a space and the zero-width non-joiner have keys of their own."""
    from kiosk.ui.keyboard import LAYOUTS, ZWNJ
    board = keyboard_shown()
    assert board is not None, "no on-screen keyboard to type on"
    for char in text:
        name = {" ": "space", ZWNJ: "zwnj"}.get(char)
        if name is None and not any(char in row for row in LAYOUTS[board.layout]):
            layout = next(n for n, rows in LAYOUTS.items() if any(char in row for row in rows))
            touch(board.keys()[layout])     # the other two layouts have a key each on the bottom row
            yield None
        touch(board.keys()[name or char])
    yield None


def fill_case_form(form: Any, names: tuple[str, str, str], birth: tuple[int, int, int]) -> Iterator[Wait]:
    """The escalation form as staff fill it: first, last and father's name typed on a keyboard, the birth year
    touched in on the on-screen keyboard's digits (`birth[0]` years before this one), the month and day picked
    from their lists (`birth[1:]` their places); then the on-screen keyboard closed."""
    import jdatetime
    from kiosk.core.jalali import persian_digits
    for field, text in zip(("first_name", "last_name", "father_name"), names):
        yield from type_into(form._box(field), text)
    touch(form.ids.year)
    yield lambda: bool(form.ids.year.focus)
    year = str(jdatetime.date.today().year - birth[0])
    yield from on_screen_keys(persian_digits(year) if form.bridge.lang == "fa" else year)
    yield from close_keyboard()
    for spinner, place in zip((form.ids.month, form.ids.day), birth[1:]):
        yield from pick(spinner, spinner.values[place])
