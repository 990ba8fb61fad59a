"""Drive the real kiosk app with a real console on loopback: refer a person, see the decision come back, record.

Run as `python tests/ui/drive_link.py KIOSK_STATE CONSOLE_STATE OUT LANG PIN`; prints one JSON object.
The console (service + zeroconf advertisement, no screen) runs in this process; the kiosk finds it by
zeroconf on 127.0.0.1 and talks mutual TLS to it, exactly as on a branch LAN. Every kiosk action is a touch at
a widget's place in the window or keys typed into the box a touch focused (tests/ui/person.py); the
representative's decision is the console service's, as its own screen would make it.
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

from kivy.core.window import Window  # noqa: E402

from kiosk.core.cases import CaseStatus, Ruling  # noqa: E402
from kiosk.rep.console import Console  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import Wait, fill_case_form, keypad, touch, type_into  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402

APPROVED_CODE = "0010000771"  # not in the test registry: the reason the person was referred


def main() -> None:
    kiosk_state, console_state, out, lang, pin = (Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                                                  sys.argv[4], sys.argv[5])
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    console = Console.start(Installed.open(console_state), ["127.0.0.1"])
    kiosk = build(kiosk_state, simulate=True, lang=lang, profile="test", lan=["127.0.0.1"])
    app = kiosk.app
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    state = lambda: app.bridge.state  # noqa: E731

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen and state().screen.value == screen)

    def sign_in() -> Iterator[Wait]:
        yield lambda: on("sign_in")
        keypad(view("sign_in").ids.keypad, pin)
        touch(view("sign_in").ids.submit)

    def refer() -> Iterator[Wait]:
        """Refer from Ready: names typed, the birth date picked from the lists, then sent."""
        touch(view("ready").ids.escalate)
        yield lambda: on("escalation")
        form = view("escalation")
        yield from fill_case_form(form, ("مریم", "رضایی", "حسن"), (35, 4, 9))
        touch(form.ids.submit)

    def case_status() -> str | None:
        cases = state().cases
        return cases[-1].status.value if cases else None

    def back_and_decide() -> Iterator[Wait]:
        """Staff go back to Ready; meanwhile the representative approves the case on the console."""
        touch(view("cases").ids.back)
        yield lambda: on("ready")
        [case] = console.service.open_cases()
        console.service.decide(case.case_id, Ruling.APPROVE, APPROVED_CODE, "", "")

    def record() -> None:
        """Touch the case's check-in button in the list."""
        [button] = [b for row in view("cases").ids.rows.children for b in row.children if hasattr(b, "case_id")]
        touch(button)

    def already_voted() -> Iterator[Wait]:
        """Done goes back to Ready on its own; the approved code is typed in again and checked."""
        yield lambda: on("ready")
        yield from type_into(view("ready").ids.code, APPROVED_CODE)
        touch(view("ready").ids.check)

    def notice_is(value: str) -> bool:
        return state().notice is not None and state().notice.value == value

    steps: list[Step] = [
        ("linked", sign_in, lambda: app.bridge.rep == "online" and on("ready"), 15),
        ("case_delivered", refer, lambda: on("cases") and case_status() == CaseStatus.DELIVERED.value, 20),
        ("decision_arrived", back_and_decide,
         lambda: on("ready") and notice_is("decision_arrived") and view("ready").ids.notice.raw != "", 10),
        ("cases_decided", lambda: touch(view("ready").ids.cases),
         lambda: on("cases") and case_status() == CaseStatus.DECIDED.value, 5),
        # Before recording, the approved code's registry verdict: not found, which is why it was referred.
        ("approval_shown", record, lambda: on("approval") and state().approval is not None
         and state().approval.outcome.verdict.value == "not_found" and not state().approval.needs_head, 5),
        ("recorded", lambda: touch(view("approval").ids.confirm), lambda: on("done"), 5),
        ("already_voted", already_voted,
         lambda: on("verdict") and state().outcome is not None and state().outcome.verdict.value == "already_voted",
         10),
        ("console_sees_delivery", lambda: None,
         lambda: all(c.delivered for c in console.service.recent_decided()), 5),
    ]

    def record_step(name: str, ok: bool, number: int) -> None:
        current = app.root.ids.screens.current
        shown = view(current)
        results.append({"step": name, "ok": ok, "screen": state().screen.value, "shown": current,
                        "rep": app.bridge.rep, "notice": state().notice.value if state().notice else None,
                        "notice_text": str(shown.ids.notice.raw) if "notice" in shown.ids else "",
                        "title": str(shown.ids.title.raw) if "title" in shown.ids else "",
                        "verdict_text": str(shown.ids.verdict.raw) if "verdict" in shown.ids
                        else str(shown.ids.band.words.raw) if "band" in shown.ids else "",
                        "delivered": [c.delivered for c in console.service.recent_decided()]})
        screenshot(str(out / f"link-{lang}-{number:02d}-{name}.png"))

    run_steps(app, steps, record_step, settle=0.2, errors=errors)
    try:
        app.run()
    finally:
        kiosk.close()
        console.close()
    print(json.dumps({"results": results, "errors": errors}, ensure_ascii=False))


if __name__ == "__main__":
    main()
