"""Drive the real kiosk app while its state disk fills up: a notice, not a crash, and nothing recorded.

Run as `python tests/ui/drive_disk_full.py STATE OUT LANG PIN CODE` with STATE on a small file system of its
own (tests/disks.small_disk); prints one JSON object. Staff sign in and check an eligible code by touch; the
disk is filled to the last block (tests/disks.fill); the touch on "record" fails to write; the app shows the
disk-full notice and keeps running; once room is made again, the same touch records the voter. Used by
tests/ui/test_disk_notice.py under Xvfb.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/, for disks.py

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from disks import fill  # noqa: E402
from kiosk.state import LEDGER  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import Wait, keypad, touch  # noqa: E402
from steps import Step, run_and_report, screenshot  # noqa: E402


def check_ins(state: Path) -> int:
    """Check-ins in the ledger file, read as the technician would (read-only, from another connection)."""
    db = sqlite3.connect(f"file:{state / LEDGER}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM events WHERE kind = 'check_in'").fetchone()[0])
    finally:
        db.close()


def labels_shown(root: Any) -> list[str]:
    """The text of every label drawn under `root` (a BidiLabel keeps what it shows in `raw`)."""
    return [str(w.raw) for w in root.walk(restrict=True) if getattr(w, "raw", "") and w.opacity > 0]


def main() -> None:
    state, out, lang, pin, code = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    kiosk = build(state, simulate=True, lang=lang, profile="test", network=False)
    app = kiosk.app
    results: list[dict[str, Any]] = []
    errors: list[str] = []

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen and app.bridge.state.screen.value == screen)

    def sign_in() -> None:
        keypad(view("sign_in").ids.keypad, pin)
        touch(view("sign_in").ids.submit)

    def check_code() -> None:
        keypad(view("ready").ids.keypad, code)
        touch(view("ready").ids.check)

    def record_touch() -> None:
        # Its own turn of Kivy's loop: the failed write must reach the app's main loop as it would from a finger,
        # not this driver's step.
        Clock.schedule_once(lambda _d: touch(view("verdict").ids.confirm), 0)

    def close_notice() -> Iterator[Wait]:
        notice = getattr(app, "disk_full", None)
        assert notice is not None
        touch(notice.ids.close)
        yield lambda: getattr(app, "disk_full", None) is None

    def make_room() -> None:
        for filler in state.glob(".filler*"):
            filler.unlink()
        record_touch()

    def notice_shown() -> bool:
        notice = getattr(app, "disk_full", None)
        return notice is not None and notice.parent is not None

    steps: list[Step] = [
        ("signed_in", sign_in, lambda: on("ready"), 30),
        ("eligible", check_code, lambda: on("verdict") and app.bridge.state.outcome.verdict.value == "eligible", 30),
        ("disk_filled", lambda: fill(state), lambda: True, 30),
        ("record_on_full_disk", record_touch, notice_shown, 30),
        ("notice_closed", close_notice, lambda: getattr(app, "disk_full", None) is None and on("verdict"), 30),
        ("recorded_after_room_made", make_room, lambda: on("done"), 30),
    ]

    def record_step(name: str, reached: bool, number: int) -> None:
        notice = getattr(app, "disk_full", None)
        results.append({"step": name, "ok": reached, "screen": app.root.ids.screens.current,
                        "checkins_shown": app.bridge.state.checkins, "in_ledger": check_ins(state),
                        "notice": labels_shown(notice) if notice is not None else []})
        try:
            screenshot(str(out / f"disk-{lang}-{number:02d}-{name}.png"))
        except OSError:
            pass   # `out` is not on the full disk; a screenshot is evidence, not the test

    run_and_report(app, steps, record_step, kiosk, results, errors, settle=0.2)


if __name__ == "__main__":
    main()
