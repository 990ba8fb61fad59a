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
STEPS = 24


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


def clipped(root: Any) -> list[str]:
    """Visible widgets sticking out of their parent (scrolling lists excepted) or text larger than its label."""
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    found: list[str] = []

    def box(widget: Any) -> tuple[float, float, float, float]:
        x, y = widget.to_window(widget.x, widget.y)
        return x, y, x + widget.width, y + widget.height

    def walk(widget: Any) -> None:
        if widget.opacity == 0 or widget.height <= 0 or isinstance(widget, ScrollView):
            return
        if widget.parent is not None and widget.parent is not widget.get_root_window():
            x, y, right, top = box(widget)
            px, py, pright, ptop = box(widget.parent)
            if x < px - 1 or y < py - 1 or right > pright + 1 or top > ptop + 1:
                found.append(f"{type(widget).__name__} {getattr(widget, 'text', '')[:30]!r} out of its parent")
        if isinstance(widget, Label) and widget.text and (
                widget.texture_size[1] > widget.height + 2 or widget.texture_size[0] > widget.width + 2):
            found.append(f"{widget.text[:30]!r} larger than its label")
        for child in widget.children:
            walk(child)

    walk(root)
    return found


def main() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.core.cases import CaseReason
    from kiosk.core.console import KioskSeen
    from kiosk.core.jalali import JalaliDate
    from kiosk.core.staff import Role
    from kiosk.rep.ui.app import build_console
    from kiosk.store.staff import StaffBook
    from rep.fakes import FakeCaseBook, form, iso

    out, lang, window, state = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in window.split("x"))
    Window.size = (width, height)
    staff = StaffBook(state / "staff.json")
    staff.set_pin("rep", "نماینده فرماندار", Role.HEAD, "2468")
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
        keys = {b.key: b for b in screen().ids.keypad.children}
        for digit in digits:
            keys[digit].dispatch("on_release")

    def sign_in(pin: str) -> None:
        keypad(pin)
        screen().ids.submit.dispatch("on_release")

    def press(button_id: str) -> None:
        screen().ids[button_id].dispatch("on_release")

    def open_row(case_id: str) -> None:
        rows = [r for r in screen().ids.rows.children if getattr(r, "case_id", "") == case_id]
        rows[0].dispatch("on_release")

    def from_network(action: Callable[[], object]) -> None:
        """The book changes on a thread of its own, as the service's network threads do."""
        threading.Thread(target=action, name="fake-network").start()

    def kiosk_rows() -> list[list[str]]:
        """The kiosks table as it reads, first column first, whichever way the screen lays it out."""
        rows = app.root.ids.screens.get_screen("kiosks").ids.rows.children
        cells = [[c.raw for c in r.children] for r in reversed(rows) if hasattr(r, "shade")]
        return [row if lang == "fa" else row[::-1] for row in cells]

    def type_reason() -> None:
        screen().ids.reason.text = "مدارک شناسایی کافی نیست"

    injected = form("زهرا", "احمدی", "رضا", JalaliDate(1380, 1, 15), "۱۲۳", reason=CaseReason.DISPUTED,
                    disputed="c0ffee0012345678:41")
    steps: list[tuple[str, Callable[[], object], str]] = [
        ("sign_in", lambda: None, "sign_in"),
        ("wrong_pin", lambda: sign_in("1111"), "sign_in"),
        ("queue", lambda: sign_in("2468"), "queue"),
        ("new_case", lambda: from_network(lambda: book.receive("E-FF0011-0003", "ff0011aa22bb33cc", "1002",
                                                               injected)), "queue"),
        ("case", lambda: open_row("E-AB12CD-0001"), "case"),
        ("code_typed", lambda: keypad("0499370899"), "case"),
        ("approved", lambda: press("approve"), "queue"),
        ("case_two", lambda: open_row("E-AB12CD-0002"), "case"),
        ("reject_without_reason", lambda: press("reject"), "case"),
        ("reason_typed", type_reason, "case"),
        ("rejected", lambda: press("reject"), "queue"),
        ("case_three", lambda: open_row("E-FF0011-0003"), "case"),
        ("case_withdrawn", lambda: from_network(lambda: book.withdraw("E-FF0011-0003")), "queue"),
        ("kiosks", lambda: press("kiosks"), "kiosks"),
        ("locked", lambda: (press("back"), queue().ids.lock.dispatch("on_release")), "sign_in"),
        # Two kiosks of branch 1001 healed from a split LAN and each reports the voter checked in on both.
        ("duplicate_reported", lambda: from_network(lambda: (book.report_duplicates("ab12cd34ef567890", 1),
                                                             book.report_duplicates("c0ffee0012345678", 1))),
         "sign_in"),
        ("queue_with_duplicates", lambda: sign_in("2468"), "queue"),
        ("kiosks_duplicates", lambda: app.root.ids.duplicates.dispatch("on_release"), "kiosks"),
        ("duplicates_acknowledged", lambda: from_network(lambda: (book.report_duplicates("ab12cd34ef567890", 0),
                                                                  book.report_duplicates("c0ffee0012345678", 0))),
         "kiosks"),
        # A rogue kiosk's undo of another kiosk's check-in reached one kiosk: it reports a record that counts
        # for nothing, and the console keeps naming it, locked or not.
        ("anomaly_reported", lambda: from_network(lambda: book.report_anomalies("ab12cd34ef567890", 1)), "kiosks"),
        ("anomaly_queue", lambda: press("back"), "queue"),
        ("anomaly_locked", lambda: queue().ids.lock.dispatch("on_release"), "sign_in"),
        ("anomaly_signed_in", lambda: sign_in("2468"), "queue"),
        ("kiosks_anomalies", lambda: app.root.ids.anomalies.dispatch("on_release"), "kiosks"),
    ]
    assert len(steps) == STEPS
    index = [0]

    def run_step(_dt: float) -> None:
        if index[0] > 0:
            name, _, want = steps[index[0] - 1]
            state_now = app.bridge.state
            banner, duplicates, anomalies = app.root.ids.alert, app.root.ids.duplicates, app.root.ids.anomalies
            results.append({"step": name, "screen": app.root.ids.screens.current, "want_screen": want,
                            "notice": state_now.notice.value if state_now.notice else None,
                            "problems": [p.value for p in state_now.problems], "alert": state_now.alert,
                            "banner": banner.text if banner.height > 0 and banner.opacity > 0 else "",
                            "duplicates": duplicates.raw if duplicates.height > 0 and duplicates.opacity > 0 else "",
                            "anomalies": anomalies.raw if anomalies.height > 0 and anomalies.opacity > 0 else "",
                            "kiosk_rows": kiosk_rows(),
                            "alerts_attempted": app.alerts.attempted, "alerts_played": app.alerts.played,
                            "disputed": app.root.ids.screens.get_screen("case").ids.disputed.raw,
                            "clipped": clipped(app.root)})
            Window.screenshot(name=str(out / f"console-{lang}-{index[0]:02d}-{name}.png"))
        if index[0] == len(steps):
            Clock.schedule_once(lambda _d: app.stop(), 0.2)
            return
        steps[index[0]][1]()
        index[0] += 1
        Clock.schedule_once(run_step, 0.6)

    Clock.schedule_once(run_step, 1.0)
    app.run()
    print(json.dumps({"results": results,
                      "decisions": [[d.case_id, d.ruling.value, d.national_code, d.reason] for d in book.decisions]}))


if __name__ == "__main__":
    main()
