"""Drive the real console app under a display: every step is a touch, a wait, a check and a screenshot.

`drive_console(lang, out)` runs this file under Xvfb in a fresh Kivy home and returns its JSON report;
run directly (`python tests/rep/drive_console.py OUT LANG WINDOW STATE`) it is the in-display driver.
Used by tests/rep/test_console_app.py and meant for `./dev screenshots`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "ui"))

from fit import clipped, small_targets  # noqa: E402
STEPS = 25


def drive_console(lang: str, out: Path, window: str = "800x480", audio: str = "") -> dict[str, Any]:
    """One fresh console with a fake case book, walked through every screen under Xvfb; `audio` sets SDL's driver."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KIVY_HOME": str(Path(tmp) / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
               "PYTHONPATH": os.pathsep.join((str(REPO), str(REPO / "tests")))}
        env.pop("SDL_AUDIODRIVER", None)
        if audio:
            env["SDL_AUDIODRIVER"] = audio
        done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, __file__, str(out),
                               lang, window, tmp], capture_output=True, text=True, env=env, timeout=300)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return report


def main() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.core.window import Window

    from kiosk.core.cases import CaseReason
    from kiosk.core.console import KioskSeen
    from kiosk.core.jalali import JalaliDate
    from kiosk.core.staff import Role
    from kiosk.rep.ui.app import build_console
    from helpers import data_keys
    from kiosk.store.staff import StaffBook
    from rep.fakes import FakeCaseBook, form, iso
    from person import answer, confirmed, keypad as touch_keys, question_shown, touch, type_into
    from steps import run_steps, screenshot

    out, lang, window, state = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in window.split("x"))
    Window.size = (width, height)
    staff = StaffBook(state / "staff.json", data_keys())
    staff.set_pin("rep", "نماینده فرماندار", Role.HEAD, "246802")
    book = FakeCaseBook()
    now = dt.datetime.now(dt.timezone.utc)
    book.receive("E-AB12CD-0001", case_form=form(note="کارت را در خانه جا گذاشته است؛ شناسنامه همراه دارد."),
                 minutes_ago=14)
    book.receive("E-AB12CD-0002", case_form=form("علی", "کریمی", "محمد", JalaliDate(1358, 11, 2), "",
                                                 reason=CaseReason.NOT_FOUND), minutes_ago=6)
    book.seen(KioskSeen("ab12cd34ef567890", "1001", True, iso(now - dt.timedelta(seconds=20)), 41, 2, 1_200))
    book.seen(KioskSeen("c0ffee0012345678", "1001", True, iso(now), 37, 0, 95_000))
    book.seen(KioskSeen("ff0011aa22bb33cc", "1002", False, iso(now - dt.timedelta(minutes=40)), 12, 1, -400_000))
    app = build_console(book, staff, "", ("1001", "1002"), lang=lang)
    results: list[dict[str, Any]] = []

    def screen() -> Any:
        return app.root.ids.screens.get_screen(app.root.ids.screens.current)

    def queue() -> Any:
        return app.root.ids.screens.get_screen("queue")

    def keypad(digits: str) -> None:
        touch_keys(screen().ids.keypad, digits)

    def sign_in(pin: str) -> None:
        keypad(pin)
        touch(screen().ids.submit)

    def press(button_id: str) -> None:
        touch(screen().ids[button_id])

    def open_row(case_id: str) -> None:
        rows = [r for r in screen().ids.rows.children if getattr(r, "case_id", "") == case_id]
        touch(rows[0])

    def from_network(action: Callable[[], object]) -> None:
        """The book changes on a thread of its own, as the service's network threads do."""
        threading.Thread(target=action, name="fake-network").start()

    def kiosk_rows() -> list[list[str]]:
        """The kiosks table as it reads, first column first, whichever way the screen lays it out."""
        rows = app.root.ids.screens.get_screen("kiosks").ids.rows.children
        cells = [[c.raw for c in r.children] for r in reversed(rows) if hasattr(r, "shade")]
        return [row if lang == "fa" else row[::-1] for row in cells]

    def type_reason() -> Any:
        return type_into(screen().ids.reason, "مدارک شناسایی کافی نیست")

    def back_and_lock() -> Any:
        press("back")
        yield lambda: app.root.ids.screens.current == "queue"
        touch(queue().ids.lock)

    injected = form("زهرا", "احمدی", "رضا", JalaliDate(1380, 1, 15), "۱۲۳", reason=CaseReason.DISPUTED,
                    disputed="c0ffee0012345678:41")
    steps: list[tuple[str, Callable[[], object], str]] = [
        ("sign_in", lambda: None, "sign_in"),
        ("wrong_pin", lambda: sign_in("1111"), "sign_in"),
        ("queue", lambda: sign_in("246802"), "queue"),
        ("new_case", lambda: from_network(lambda: book.receive("E-FF0011-0003", "ff0011aa22bb33cc", "1002",
                                                               injected)), "queue"),
        ("case", lambda: open_row("E-AB12CD-0001"), "case"),
        ("code_typed", lambda: keypad("0499370899"), "case"),
        ("approve_asked", lambda: press("approve"), "case"),
        ("approved", lambda: answer(True), "queue"),
        ("case_two", lambda: open_row("E-AB12CD-0002"), "case"),
        ("reject_without_reason", lambda: press("reject"), "case"),
        ("reason_typed", type_reason, "case"),
        ("rejected", lambda: confirmed(screen().ids.reject), "queue"),
        ("case_three", lambda: open_row("E-FF0011-0003"), "case"),
        ("case_withdrawn", lambda: from_network(lambda: book.withdraw("E-FF0011-0003")), "queue"),
        ("kiosks", lambda: press("kiosks"), "kiosks"),
        ("locked", lambda: back_and_lock(), "sign_in"),
        # Two kiosks of branch 1001 healed from a split LAN and each reports the voter checked in on both.
        ("duplicate_reported", lambda: from_network(lambda: (book.report_duplicates("ab12cd34ef567890", 1),
                                                             book.report_duplicates("c0ffee0012345678", 1))),
         "sign_in"),
        ("queue_with_duplicates", lambda: sign_in("246802"), "queue"),
        ("kiosks_duplicates", lambda: touch(app.root.ids.duplicates), "kiosks"),
        ("duplicates_acknowledged", lambda: from_network(lambda: (book.report_duplicates("ab12cd34ef567890", 0),
                                                                  book.report_duplicates("c0ffee0012345678", 0))),
         "kiosks"),
        # A rogue kiosk's undo of another kiosk's check-in reached one kiosk: it reports a record that counts
        # for nothing, and the console keeps naming it, locked or not.
        ("anomaly_reported", lambda: from_network(lambda: book.report_anomalies("ab12cd34ef567890", 1)), "kiosks"),
        ("anomaly_queue", lambda: press("back"), "queue"),
        ("anomaly_locked", lambda: touch(queue().ids.lock), "sign_in"),
        ("anomaly_signed_in", lambda: sign_in("246802"), "queue"),
        ("kiosks_anomalies", lambda: touch(app.root.ids.anomalies), "kiosks"),
    ]
    assert len(steps) == STEPS

    def banner(widget: Any) -> str:
        return str(widget.raw if hasattr(widget, "raw") and widget.height > 0 and widget.opacity > 0 else "")

    def notice() -> str | None:
        return app.bridge.state.notice.value if app.bridge.state.notice else None

    # What each step waits for besides its screen: the state a person would see change.
    also: dict[str, Callable[[], bool]] = {
        "wrong_pin": lambda: notice() == "wrong_pin",
        "new_case": lambda: app.bridge.state.alert == 1 and app.alerts.attempted >= 1 + attempted[0],
        "case": lambda: app.bridge.state.selected is not None
        and app.bridge.state.selected.case_id == "E-AB12CD-0001",
        "code_typed": lambda: app.root.ids.screens.get_screen("case").ids.code.text != "",
        # The approval asks first, in words: nothing is signed or sent until the answer.
        "approve_asked": lambda: question_shown() is not None and notice() is None and not book.decisions,
        "approved": lambda: notice() == "decided",
        "case_two": lambda: app.bridge.state.selected is not None
        and app.bridge.state.selected.case_id == "E-AB12CD-0002",
        "reject_without_reason": lambda: notice() == "decision_incomplete",
        "reason_typed": lambda: app.root.ids.screens.get_screen("case").ids.reason.text != "",
        "rejected": lambda: notice() == "decided",
        "case_three": lambda: app.bridge.state.selected is not None
        and app.bridge.state.selected.case_id == "E-FF0011-0003",
        "case_withdrawn": lambda: notice() == "case_gone",
        "duplicate_reported": lambda: len(app.bridge.state.duplicates) == 2 and banner(app.root.ids.duplicates) != "",
        "duplicates_acknowledged": lambda: not app.bridge.state.duplicates and banner(app.root.ids.duplicates) == "",
        "anomaly_reported": lambda: len(app.bridge.state.anomalies) == 1 and banner(app.root.ids.anomalies) != "",
    }
    attempted = [0]

    def wanted(name: str, want: str) -> Callable[[], bool]:
        extra = also.get(name, lambda: True)
        return lambda: app.root.ids.screens.current == want and app.bridge.state.screen.value == want and extra()

    def acted(name: str, action: Callable[[], object]) -> Callable[[], object]:
        def act() -> object:
            attempted[0] = app.alerts.attempted
            return action()
        return act

    def record_step(name: str, reached: bool, number: int) -> None:
        want = [w for n, _, w in steps if n == name][0]
        state_now = app.bridge.state
        banner_, duplicates, anomalies = app.root.ids.alert, app.root.ids.duplicates, app.root.ids.anomalies
        results.append({"step": name, "ok": reached, "screen": app.root.ids.screens.current, "want_screen": want,
                        "notice": state_now.notice.value if state_now.notice else None,
                        "problems": [p.value for p in state_now.problems], "alert": state_now.alert,
                        "banner": banner_.text if banner_.height > 0 and banner_.opacity > 0 else "",
                        "duplicates": duplicates.raw if duplicates.height > 0 and duplicates.opacity > 0 else "",
                        "anomalies": anomalies.raw if anomalies.height > 0 and anomalies.opacity > 0 else "",
                        "kiosk_rows": kiosk_rows(),
                        "alerts_attempted": app.alerts.attempted, "alerts_played": app.alerts.played,
                        "disputed": app.root.ids.screens.get_screen("case").ids.disputed.raw,
                        "clipped": clipped(app.root), "small": small_targets(app.root)})
        screenshot(str(out / f"console-{lang}-{number:02d}-{name}.png"))

    errors: list[str] = []
    run_steps(app, [(name, acted(name, action), wanted(name, want), 10) for name, action, want in steps],
              record_step, settle=0.3, errors=errors)
    app.run()
    print(json.dumps({"results": results, "errors": errors,
                      "decisions": [[d.case_id, d.ruling.value, d.national_code, d.reason] for d in book.decisions]}))


if __name__ == "__main__":
    main()
