"""Drive the real kiosk app under a display as a person does: touches, keys, cards; a wait, a check, a screenshot.

Run as `python tests/ui/drive.py STATE OUT LANG CODES_JSON PIN [CARDS]`; prints one JSON object with the
results. Every action is a touch at a widget's place in the window, keys typed on the keyboard, or a card
put in the reader. Without CARDS the reader is the simulated one and cards go in by touching the
simulation's panel buttons (as on a technician's laptop); with CARDS (a folder of DER card certificates:
eligible, deceased, untrusted) the app opens the PC/SC reader `Virtual PCD 00 01` of a running pcscd, and a
card is inserted by connecting a virtual card process to vpcd (drivers/card/vpcd_card.py), removed by ending it.
Used by tests/ui/test_app.py (under Xvfb), `./dev screenshots` and `./dev bench`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from kiosk.core.jalali import persian_digits  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import (Wait, answer, close_keyboard, confirmed, fill_case_form, keyboard_shown,  # noqa: E402
                    keypad, on_screen_keys, pick, press_enter, question_shown, touch, type_into)
from fit import clipped, small_targets  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402

VPCD_READER, VPCD_PORT = "Virtual PCD 00 01", 35964   # vpcd's second reader: the driver tests use the first
WORKER_PIN = "987654"


class VpcdCards:
    """Cards put into vpcd's reader: a virtual card process is "in the reader" while it is connected."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[str] | None = None

    def insert(self, kind: str) -> None:
        self.remove()
        self.process = subprocess.Popen([sys.executable, "-m", "drivers.card.vpcd_card", "--port", str(VPCD_PORT),
                                         "--profile", "test", "--cert", str(self.folder / f"{kind}.der")],
                                        stdout=subprocess.DEVNULL, text=True)

    def remove(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def main() -> None:
    state, out, lang, codes_file, pin = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    cards_folder = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    codes: dict[str, str] = json.loads(Path(codes_file).read_text())
    out.mkdir(parents=True, exist_ok=True)
    # The 7" touchscreen the appliance ships with, unless KIOSK_WINDOW asks for another (e.g. 1280x800).
    width, height = (int(v) for v in os.environ.get("KIOSK_WINDOW", "800x480").split("x"))
    Window.size = (width, height)
    build_started = time.perf_counter()
    if cards_folder is None:
        kiosk = build(state, simulate=True, lang=lang, profile="test", demo_codes=codes, lan=["127.0.0.1"])
    else:
        kiosk = build(state, simulate=False, lang=lang, profile="test", reader_name=VPCD_READER, lan=["127.0.0.1"])
    app = kiosk.app
    vpcd = VpcdCards(cards_folder) if cards_folder is not None else None
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    started = time.perf_counter()
    timing: dict[str, float] = {}

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def shown() -> Any:
        return view(app.root.ids.screens.current)

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen and app.bridge.state.screen.value == screen)

    def verdict() -> str | None:
        outcome = app.bridge.state.outcome
        return outcome.verdict.value if outcome is not None else None

    def notice() -> str | None:
        state_now = app.bridge.state
        return state_now.notice.value if state_now.notice else None

    def dev_button(raw: str) -> Any:
        [button] = [b for b in app.root.ids.dev_panel.children if b.raw == raw]
        return button

    def insert(kind: str) -> Iterator[Wait]:
        """A card of `kind` goes into the reader (after the one in it, if any, comes out)."""
        if vpcd is not None:
            yield from remove()
            vpcd.insert(kind)
        else:
            touch(dev_button(kind))
        yield None

    def remove() -> Iterator[Wait]:
        if vpcd is not None:
            vpcd.remove()
        else:
            touch(dev_button("remove card"))
        yield lambda: app.bridge.reader == "no_card"

    def sign_in(account_pin: str) -> None:
        """Touch the PIN in on the on-screen keypad, then the sign-in button."""
        keypad(view("sign_in").ids.keypad, account_pin)
        touch(view("sign_in").ids.submit)

    def keyed(code: str) -> None:
        """The code touched in on the Ready screen's keypad, then Check."""
        keypad(view("ready").ids.keypad, code)
        touch(view("ready").ids.check)

    def back_to_ready() -> Iterator[Wait]:
        if not on("ready"):       # a code to correct is on Ready already
            touch(shown().ids.cancel)
        yield lambda: on("ready")

    def already_voted() -> Iterator[Wait]:
        """The card comes out; Done goes back to Ready on its own; the code comes from a keyboard (a wedge scanner)."""
        yield from remove()
        yield lambda: on("ready")
        yield from type_into(view("ready").ids.code, codes["eligible"])
        press_enter()

    mistyped = codes["underage"][:-1] + str((int(codes["underage"][-1]) + 1) % 10)   # the check digit slipped

    def pad_key(key: str) -> Any:
        [button] = [b for b in view("ready").ids.keypad.children if b.key == key]
        return button

    def in_box(code: str) -> bool:
        """The Ready screen's box holds `code` as the keypad typed it (Persian digits on Persian screens)."""
        return bool(view("ready").ids.code.text == (persian_digits(code) if lang == "fa" else code))

    def correct_last_digit() -> Iterator[Wait]:
        """The last digit deleted on the keypad and typed again right, then Check."""
        touch(pad_key("back"))
        yield lambda: in_box(codes["underage"][:-1])
        keyed(codes["underage"][-1])

    def by_keypad(code: str, card_out: bool = False) -> Callable[[], Iterator[Wait]]:
        def act() -> Iterator[Wait]:
            yield from back_to_ready()
            if card_out:
                yield from remove()
            if view("ready").ids.code.text:    # the last person's code, kept for correction: cleared
                touch(pad_key("clear"))
                yield lambda: not view("ready").ids.code.text and verdict() is None
            keyed(code)
        return act

    def by_card(kind: str) -> Callable[[], Iterator[Wait]]:
        def act() -> Iterator[Wait]:
            yield from back_to_ready()
            yield from insert(kind)
        return act

    def fill_and_refer() -> Iterator[Wait]:
        """A person whose card is not trusted: names typed, the birth date picked from the lists, then referred."""
        form = view("escalation")
        yield from fill_case_form(form, ("مریم", "رضایی", "حسن"), (35, 4, 9))
        yield from type_into(form.ids.certificate, "۴۵۶")
        touch(form.ids.submit)

    def add_worker() -> Iterator[Wait]:
        staff = view("staff")
        touch(staff.ids.name)       # the kiosk's own keyboard: a letter, a space, a letter at a time
        yield lambda: bool(staff.ids.name.focus) and keyboard_shown() is not None
        yield from on_screen_keys("زهرا کاظمی")
        yield from close_keyboard()
        keypad(staff.ids.keypad, WORKER_PIN)
        touch(staff.ids.add)

    def sign_in_worker() -> Iterator[Wait]:
        """Pick the new worker in the account list and touch their PIN in."""
        account = view("sign_in").ids.account
        yield from pick(account, account.values[-1])
        sign_in(WORKER_PIN)

    def withdraw_button() -> Any:
        [button] = [part for row in view("cases").ids.rows.children for part in row.children
                    if getattr(part, "case_id", "")]
        return button

    def on_window(widget: Any) -> bool:
        return widget.get_root_window() is not None

    def case_status() -> str | None:
        cases = app.bridge.state.cases
        return cases[-1].status.value if cases else None

    def leave_cases() -> Iterator[Wait]:
        touch(shown().ids.back)
        yield lambda: on("ready")
        if vpcd is None:
            touch(dev_button("unplug"))

    def open_staff() -> Iterator[Wait]:
        if vpcd is None:
            touch(dev_button("plug"))
            yield lambda: app.bridge.reader == "no_card"
        touch(view("ready").ids.staff)

    def timed(key: str, action: Callable[[], object]) -> Callable[[], object]:
        def act() -> object:
            timing[key] = time.perf_counter()
            return action()
        return act

    steps: list[Step] = [
        ("sign_in", lambda: None, lambda: on("sign_in"), 5),
        ("wrong_pin", lambda: sign_in("000000"), lambda: on("sign_in") and notice() == "wrong_pin", 5),
        ("ready", timed("sign_in_pressed", lambda: sign_in(pin)), lambda: on("ready"), 5),
        ("verdict_eligible_card", timed("pressed", lambda: insert("eligible")),
         lambda: on("verdict") and verdict() == "eligible", 5),
        ("done", lambda: touch(view("verdict").ids.confirm), lambda: on("done"), 5),
        ("verdict_already_voted", already_voted, lambda: on("verdict") and verdict() == "already_voted", 10),
        ("verdict_underage", by_keypad(codes["underage"]), lambda: on("verdict") and verdict() == "underage", 5),
        ("verdict_deceased", by_card("deceased"), lambda: on("verdict") and verdict() == "deceased", 5),
        ("verdict_suspended", by_keypad(codes["suspended"], card_out=True),
         lambda: on("verdict") and verdict() == "suspended", 5),
        # A typed code found invalid or not found stays in the box, its verdict above it, to be corrected.
        ("verdict_not_found", by_keypad("0000000019"),
         lambda: on("ready") and verdict() == "not_found" and in_box("0000000019"), 5),
        ("verdict_invalid_code", by_keypad(mistyped),
         lambda: on("ready") and verdict() == "invalid_code" and in_box(mistyped), 5),
        ("code_corrected", correct_last_digit,
         lambda: on("verdict") and verdict() == "underage", 5),
        ("verdict_card_not_trusted", by_card("untrusted"),
         lambda: on("verdict") and verdict() == "card_not_trusted", 5),
        ("escalation", lambda: touch(view("verdict").ids.escalate), lambda: on("escalation"), 5),
        ("escalation_incomplete", lambda: touch(view("escalation").ids.submit),
         lambda: on("escalation") and notice() == "form_incomplete", 5),
        ("cases", fill_and_refer, lambda: on("cases") and len(app.bridge.state.cases) == 1, 20),
        # Withdrawing asks first, in words; "back" leaves the case as it was, the answer withdraws it.
        ("withdraw_asked", lambda: touch(withdraw_button()),
         lambda: question_shown() is not None and case_status() == "waiting", 5),
        ("withdraw_kept", lambda: answer(False), lambda: question_shown() is None and case_status() == "waiting", 5),
        ("withdrawn", lambda: confirmed(withdraw_button()), lambda: case_status() == "cancelled", 5),
        ("reader_unplugged" if vpcd is None else "cases_left", leave_cases,
         lambda: on("ready") and (vpcd is not None or notice() == "reader_unplugged"), 5),
        ("staff", open_staff, lambda: on("staff"), 5),
        ("worker_added", add_worker, lambda: on("staff") and notice() == "worker_added", 5),
        ("back_to_ready", lambda: touch(view("staff").ids.back), lambda: on("ready"), 5),
        ("locked", lambda: touch(view("ready").ids.lock), lambda: on("sign_in"), 5),
        ("worker_signed_in", sign_in_worker, lambda: on("ready"), 10),
        # A poll worker has no Staff or summary button to touch (not one that refuses).
        ("staff_hidden", lambda: None,
         lambda: on("ready") and not on_window(view("ready").ids.staff) and not on_window(view("ready").ids.summary),
         5),
        ("help", lambda: touch(view("ready").ids.help), lambda: on("help") and view("ready").parent is None, 5),
        ("help_back", lambda: touch(view("help").ids.back), lambda: on("ready"),
         5),
    ]

    def record_step(name: str, reached: bool, number: int) -> None:
        state_now = app.bridge.state
        case = state_now.cases[-1] if state_now.cases else None
        band = shown().ids.get("band")
        results.append({"step": name, "ok": reached, "screen": app.root.ids.screens.current, "verdict": verdict(),
                        "band": [round(c, 3) for c in band._colour.rgba] if band is not None and band.verdict else None,
                        "icon": band.icon.kind if band is not None and band.verdict else None,
                        "words_px": band.words.font_size if band is not None and band.verdict else None,
                        "next_step": str(shown().ids.hint.raw) if "hint" in shown().ids else "",
                        "name": str(getattr(shown().ids.name, "raw", "")) if "name" in shown().ids else "",
                        "countdown": str(shown().ids.countdown.raw) if "countdown" in shown().ids else "",
                        "who": str(shown().ids.who.raw) if "who" in shown().ids else "",
                        "help": [str(r.raw) for r in reversed(shown().ids.rows.children)] if name == "help" else [],
                        "box": str(shown().ids.code.text) if "code" in shown().ids else "",
                        "referral": bool(shown().ids.escalate.opacity and not shown().ids.escalate.disabled)
                        if "escalate" in shown().ids else None,
                        "notice": notice(), "reader": app.bridge.reader,
                        "clipped": clipped(app.root), "small": small_targets(app.root),
                        "case": [case.form.first_name, case.form.last_name, case.form.father_name,
                                 str(case.form.birth_date), case.form.birth_certificate] if case else None})
        screenshot(str(out / f"{lang}-{number:02d}-{name}.png"))

    def watch(_dt: float) -> None:
        if "sign_in_pressed" in timing and "ready_shown" not in timing and on("ready"):
            timing["ready_shown"] = time.perf_counter()
        if "pressed" in timing and "shown" not in timing and on("verdict"):
            timing["shown"] = time.perf_counter()

    Clock.schedule_interval(watch, 0)
    Clock.schedule_once(lambda _d: timing.setdefault("ready_at", time.perf_counter() - started), 0)
    Clock.schedule_once(lambda _d: timing.setdefault("first_frame", time.perf_counter() - build_started), 0)
    run_steps(app, steps, record_step, settle=0.2, errors=errors)
    try:
        app.run()
    finally:
        if vpcd is not None:
            vpcd.remove()
        kiosk.close()
    print(json.dumps({"results": results, "errors": errors, "start_to_first_frame_s": timing.get("ready_at"),
                      "build_to_first_frame_s": timing.get("first_frame"),
                      "sign_in_to_ready_ms": (timing["ready_shown"] - timing["sign_in_pressed"]) * 1000
                      if "ready_shown" in timing else None,
                      "card_to_verdict_ms": (timing["shown"] - timing["pressed"]) * 1000
                      if "shown" in timing else None}, ensure_ascii=False))


if __name__ == "__main__":
    main()
