"""Type too much into the real apps' text boxes on the keyboard: each box keeps what the core and the wire take.

Run as `python tests/ui/drive_text_limits.py kiosk STATE OUT PIN` or `... console STATE OUT PIN`; prints one
JSON object with what each box holds after the typing. Used by tests/ui/test_text_boxes.py under Xvfb.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/, for rep.fakes

from kivy.core.window import Window  # noqa: E402

from person import Wait, close_keyboard, keypad, touch, type_text  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402

LONG_NAME = "ز" * 70
NOTE = "کارت را در خانه جا گذاشته است\nشناسنامه همراه دارد\t" + "ی" * 400
TEN_DIGITS = "1357902468"
LONG_REASON = "مدارک شناسایی کافی نیست\n" + "ی" * 250


def type_in(box: Any, text: str) -> Iterator[Wait]:
    """Touch the box, wait for its focus, type every character (what the box keeps is the point)."""
    touch(box)
    yield lambda: bool(box.focus)
    type_text(text)
    yield None
    yield from close_keyboard()     # the kiosk's own keyboard opened over the buttons below


def main() -> None:
    which, state, out, pin = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    kept: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    closing: list[Any] = []
    if which == "kiosk":
        from kiosk.ui.run import build
        kiosk = build(state, simulate=True, lang="fa", profile="test", network=False)
        closing.append(kiosk)
        app = kiosk.app
        steps = _kiosk_steps(app, pin, kept)
    else:
        from kiosk.core.staff import Role
        from kiosk.rep.ui.app import build_console
        from helpers import data_keys
        from kiosk.store.staff import StaffBook
        from rep.fakes import FakeCaseBook
        staff = StaffBook(state / "staff.json", data_keys())
        staff.set_pin("rep", "نماینده فرماندار", Role.HEAD, pin)
        book = FakeCaseBook()
        book.receive("E-AB12CD-0001")
        app = build_console(book, staff, "", ("1001",), lang="fa")
        steps = _console_steps(app, pin, kept)

    def record(name: str, reached: bool, number: int) -> None:
        results.append({"step": name, "ok": reached, "screen": app.root.ids.screens.current})
        screenshot(str(out / f"text-{which}-{number:02d}-{name}.png"))

    run_steps(app, steps, record, settle=0.1, errors=errors)
    try:
        app.run()
    finally:
        for thing in closing:
            thing.close()
    print(json.dumps({"results": results, "errors": errors, "kept": kept}, ensure_ascii=False))


def _kiosk_steps(app: Any, pin: str, kept: dict[str, str]) -> list[Step]:
    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen)

    def pin_on_keyboard() -> Iterator[Wait]:
        box = view("sign_in").ids.pin
        yield from type_in(box, TEN_DIGITS + "x\n")
        kept["sign_in_pin"] = box.text
        box.text = ""
        keypad(view("sign_in").ids.keypad, pin)
        touch(view("sign_in").ids.submit)

    def case_form() -> Iterator[Wait]:
        touch(view("ready").ids.escalate)
        yield lambda: on("escalation")
        form = view("escalation")
        yield from type_in(form._box("first_name"), LONG_NAME)
        kept["first_name"] = form._box("first_name").text
        yield from type_in(form.ids.note, NOTE)
        kept["note"] = form.ids.note.text
        touch(form.ids.back)

    def staff_screen() -> Iterator[Wait]:
        yield lambda: on("ready")
        touch(view("ready").ids.staff)
        yield lambda: on("staff")
        staff = view("staff")
        yield from type_in(staff.ids.name, "زهرا\nکاظمی" + "ی" * 70)
        kept["staff_name"] = staff.ids.name.text
        yield from type_in(staff.ids.pin, TEN_DIGITS)
        kept["staff_pin"] = staff.ids.pin.text
        staff.ids.pin.text = ""
        keypad(staff.ids.keypad, TEN_DIGITS)
        kept["staff_pin_keypad"] = staff.ids.pin.text

    return [
        ("signed_in", pin_on_keyboard, lambda: on("ready"), 30),
        ("case_form", case_form, lambda: on("ready"), 30),
        ("staff", staff_screen, lambda: on("staff"), 30),
    ]


def _console_steps(app: Any, pin: str, kept: dict[str, str]) -> list[Step]:
    def screen() -> Any:
        return app.root.ids.screens.get_screen(app.root.ids.screens.current)

    def on(name: str) -> bool:
        return bool(app.root.ids.screens.current == name)

    def sign_in() -> Iterator[Wait]:
        box = screen().ids.pin
        yield from type_in(box, TEN_DIGITS)
        kept["sign_in_pin"] = box.text
        box.text = ""
        keypad(screen().ids.keypad, pin)
        touch(screen().ids.submit)

    def reason() -> Iterator[Wait]:
        [row] = [r for r in screen().ids.rows.children if getattr(r, "case_id", "") == "E-AB12CD-0001"]
        touch(row)
        yield lambda: on("case")
        yield from type_in(screen().ids.reason, LONG_REASON)
        kept["reason"] = screen().ids.reason.text

    return [
        ("signed_in", sign_in, lambda: on("queue"), 30),
        ("reason", reason, lambda: on("case"), 30),
    ]


if __name__ == "__main__":
    main()
