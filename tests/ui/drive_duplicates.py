"""Drive the real kiosk app through a double check-in: the alert at sign-in, one more found by sync, each acknowledged.

Run as `python tests/ui/drive_duplicates.py KIOSK1_STATE KIOSK2_STATE OUT LANG PIN CODE`; prints one JSON object.
KIOSK1 already holds KIOSK2's first events with one voter checked in on both (tests/ui/screenshots.py
makes them); KIOSK2 has since checked CODE in, which KIOSK1 has not heard of: the branch LAN is split. The
app then checks CODE in too, and the driver stores KIOSK2's newer events in KIOSK1 as branch sync would. Every
staff action is a touch in the window or keys typed into a touched box (tests/ui/person.py); the sync status
and the stored events stand for the branch sync service.
Used by tests/ui/test_duplicates_app.py (under Xvfb) and by `./dev screenshots`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.core.window import Window  # noqa: E402

from kiosk.core.branch import PeerSeen, SyncStatus  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.store.ledger import Kind  # noqa: E402
from kiosk.store.replica import Replica  # noqa: E402
from kiosk.trust import certs  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from kiosk.ui.text import EN, FA  # noqa: E402
from person import Wait, keypad, touch, type_into  # noqa: E402
from fit import clipped, small_targets  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402

PEER_A, PEER_B = "c0ffee0012345678", "ff0011aa22bb33cc"


def ago(minutes: int) -> str:
    """A wall time some minutes back, as branch sync reports last contact (UTC ISO)."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)).isoformat(timespec="milliseconds")


# Made-up views of the branch for the status bar: the sync service is the lead's, not driven here.
SPLIT = SyncStatus(peers=(PeerSeen(PEER_A, True, ago(0), 15), PeerSeen(PEER_B, False, ago(40), 0)),
                   refused=(("kiosk-7a7a7a", "branch"),))
IN_STEP = SyncStatus(peers=(PeerSeen(PEER_A, True, ago(0), 0), PeerSeen(PEER_B, True, ago(0), 0)))
CUT_OFF = SyncStatus(peers=(PeerSeen(PEER_A, False, ago(12), 3), PeerSeen(PEER_B, False, ago(40), 0)))


def main() -> None:
    one_state, two_state, out, lang, pin, code = (Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                                                  sys.argv[4], sys.argv[5], sys.argv[6])
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    # network=False: no console and no other kiosk is running; nothing on the LAN may overwrite the made-up status.
    kiosk = build(one_state, simulate=True, lang=lang, profile="test", network=False)
    app = kiosk.app
    one, two = Installed.open(one_state), Installed.open(two_state)
    ledger = one.open_ledger()  # a second connection to the app's ledger file, as branch sync keeps its own
    replica = Replica(ledger, one.authority_cert, certs.cert_pem(one.device_cert), one.claims.branches)
    flow = app.bridge.flow
    other, other_ledger = two.claims.device_id, two.open_ledger()
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    state = lambda: app.bridge.state  # noqa: E731
    words = FA if lang == "fa" else EN

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def ready() -> Any:
        return view("ready")

    def on(name: str) -> bool:
        return bool(app.root.ids.screens.current == name and state().screen.value == name)

    def sign_in() -> None:
        """Touch the PIN in on the sign-in keypad, then the sign-in button."""
        app.bridge.sync_changed(SPLIT)
        keypad(view("sign_in").ids.keypad, pin)
        touch(view("sign_in").ids.submit)

    def type_code() -> Iterator[Wait]:
        yield from type_into(ready().ids.code, code)
        touch(ready().ids.check)

    def sync_arrives() -> Iterator[Wait]:
        """Staff look at their cases; meanwhile the LAN heals and KIOSK2's check-in of CODE is stored here."""
        touch(ready().ids.cases)
        yield lambda: on("cases")
        held = replica.heads().get(other, 0)
        stored = replica.store(other, certs.cert_pem(two.device_cert), list(other_ledger.events(other))[held:])
        assert getattr(stored, "duplicates", 0) == 1, stored
        flow.duplicates_changed()   # what branch sync's on_duplicates calls, on Kivy's thread

    def acknowledge_first() -> None:
        """Touch the acknowledge button of the top row."""
        rows = view("duplicates").ids.rows.children
        buttons = [b for row in rows for b in row.children if hasattr(b, "index")]
        touch(min(buttons, key=lambda b: b.index))

    def duplicate_rows() -> int:
        if app.root.ids.screens.current != "duplicates":
            return 0
        return sum(1 for row in view("duplicates").ids.rows.children for b in row.children if hasattr(b, "index"))

    def button() -> str:
        widget = ready().ids.duplicates
        return str(widget.raw) if widget.height > 0 and widget.opacity > 0 else ""

    def is_(name: str, notice: str | None = None) -> Callable[[], bool]:
        return lambda: on(name) and (notice is None or (
            state().notice is not None and state().notice.value == notice))

    def sync_says(key: str) -> bool:
        """The status bar's sync cell shows these words on its second line (whatever figures fill them)."""
        lines = str(app.root.ids.sync.raw).splitlines()
        return len(lines) == 2 and lines[1].startswith(words[key].split("{")[0])

    steps: list[Step] = [
        ("sign_in", lambda: app.bridge.sync_changed(SPLIT), lambda: app.root.ids.sync.raw != "", 3),
        ("ready_duplicate", sign_in, lambda: is_("ready", "duplicate_check_in")() and button() != "", 5),
        ("verdict", type_code, lambda: is_("verdict")() and state().outcome.verdict.value == "eligible", 5),
        ("done", lambda: touch(view("verdict").ids.confirm), is_("done"), 5),
        ("ready_again", lambda: None, is_("ready"), 8),
        ("found_on_cases", sync_arrives,
         lambda: is_("cases", "duplicate_check_in")() and len(state().duplicates) == 2, 5),
        ("ready_two", lambda: touch(view("cases").ids.back), lambda: is_("ready")() and button() != "", 5),
        ("duplicates", lambda: touch(ready().ids.duplicates),
         lambda: is_("duplicates")() and duplicate_rows() == 2, 5),
        ("acknowledged_one", acknowledge_first, lambda: is_("duplicates")() and duplicate_rows() == 1, 5),
        ("all_acknowledged", acknowledge_first, lambda: is_("ready")() and button() == "", 5),
        ("sync_in_step", lambda: app.bridge.sync_changed(IN_STEP),
         lambda: sync_says("status.sync.in_step"), 3),
        ("sync_cut_off", lambda: app.bridge.sync_changed(CUT_OFF),
         lambda: app.bridge.sync == CUT_OFF and sync_says("status.sync.last_contact"), 3),
    ]

    def record_step(name: str, ok: bool, number: int) -> None:
        current = app.root.ids.screens.current
        shown = view(current)
        results.append({"step": name, "ok": ok, "screen": state().screen.value, "on_screen": current,
                        "notice_text": str(shown.ids.notice.raw) if "notice" in shown.ids else "",
                        "notice": state().notice.value if state().notice else None,
                        "duplicates": len(state().duplicates), "button": button(), "rows": duplicate_rows(),
                        "sync": app.root.ids.sync.raw, "clipped": clipped(app.root), "small": small_targets(app.root),
                        "acknowledged": sum(1 for e in ledger.events(one.claims.device_id)
                                            if e.kind is Kind.DUPLICATE_SEEN)})
        screenshot(str(out / f"dup-{lang}-{number:02d}-{name}.png"))

    # One more frame before each record: labels re-wrap after a change.
    run_steps(app, steps, record_step, start_after=0.8, settle=0.3, errors=errors)
    try:
        app.run()
    finally:
        kiosk.close()
        ledger.close()
        other_ledger.close()
    print(json.dumps({"results": results, "errors": errors}, ensure_ascii=False))


if __name__ == "__main__":
    main()
