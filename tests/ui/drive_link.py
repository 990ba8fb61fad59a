"""Drive the real kiosk app with a real console on loopback: refer a person, see the decision come back, record.

Run as `python tests/ui/drive_link.py KIOSK_STATE CONSOLE_STATE OUT LANG PIN`; prints one JSON object.
The console (service + zeroconf advertisement, no screen) runs in this process; the kiosk finds it by
zeroconf on 127.0.0.1 and talks mutual TLS to it, exactly as on a branch LAN.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")

from kivy.core.window import Window  # noqa: E402

from kiosk.core.cases import CaseStatus, Ruling  # noqa: E402
from kiosk.rep.console import Console  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from steps import Step, run_steps  # noqa: E402

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

    def screen() -> Any:
        return app.root.ids.screens.get_screen(app.root.ids.screens.current)

    def sign_in() -> None:
        view = app.root.ids.screens.get_screen("sign_in")
        keys = {b.key: b for b in view.ids.keypad.children}
        for digit in pin:
            keys[digit].dispatch("on_release")
        view.ids.submit.dispatch("on_release")

    def refer() -> None:
        screen().ids.escalate.dispatch("on_release")
        view = app.root.ids.screens.get_screen("escalation")  # the manager follows the core on the next frame
        view._box("first_name").text, view._box("last_name").text = "مریم", "رضایی"
        view._box("father_name").text = "حسن"
        view.ids.year.text = view.ids.year.values[35]
        view.ids.month.text = view.ids.month.values[4]
        view.ids.day.text = view.ids.day.values[9]
        view.submit()

    def case_status() -> str | None:
        cases = app.bridge.state.cases
        return cases[-1].status.value if cases else None

    def decide() -> None:
        [case] = console.service.open_cases()
        console.service.decide(case.case_id, Ruling.APPROVE, APPROVED_CODE, "", "")

    def record() -> None:
        [button] = [b for row in screen().ids.rows.children for b in row.children if hasattr(b, "case_id")]
        button.dispatch("on_release")

    state = lambda: app.bridge.state  # noqa: E731
    steps: list[Step] = [
        ("linked", sign_in, lambda: app.bridge.rep == "online" and state().screen.value == "ready", 15),
        ("case_delivered", refer, lambda: case_status() == CaseStatus.DELIVERED.value, 10),
        ("decision_arrived", lambda: (screen().ids.back.dispatch("on_release"), decide()),
         lambda: state().notice is not None and state().notice.value == "decision_arrived", 10),
        ("cases_decided", lambda: screen().ids.cases.dispatch("on_release"),
         lambda: state().screen.value == "cases" and case_status() == CaseStatus.DECIDED.value, 5),
        # Before recording, the approved code's registry verdict: not found, which is why it was referred.
        ("approval_shown", record, lambda: state().screen.value == "approval" and state().approval is not None
         and state().approval.outcome.verdict.value == "not_found" and not state().approval.needs_head, 5),
        ("recorded", lambda: app.root.ids.screens.get_screen("approval").ids.confirm.dispatch("on_release"),
         lambda: state().screen.value == "done", 5),
        ("already_voted", lambda: (setattr(app.root.ids.screens.get_screen("ready").ids.code, "text",
                                           APPROVED_CODE), app.root.ids.screens.get_screen("ready").check()),
         lambda: state().outcome is not None and state().outcome.verdict.value == "already_voted", 8),
        ("console_sees_delivery", lambda: None,
         lambda: all(c.delivered for c in console.service.recent_decided()), 5),
    ]
    def record_step(name: str, ok: bool, number: int) -> None:
        results.append({"step": name, "ok": ok, "screen": state().screen.value,
                        "rep": app.bridge.rep, "notice": state().notice.value if state().notice else None})
        Window.screenshot(name=str(out / f"link-{lang}-{number:02d}-{name}.png"))

    run_steps(app, steps, record_step)
    try:
        app.run()
    finally:
        kiosk.close()
        console.close()
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
