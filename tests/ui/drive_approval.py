"""Drive the real kiosk app with a real console: an approval of a deceased person's code needs the branch head.

Run as `python tests/ui/drive_approval.py KIOSK_STATE CONSOLE_STATE OUT LANG WORKER_PIN HEAD_PIN CODE`; prints
one JSON object. A poll worker refers a person with no card; the representative approves them with CODE, which
the registry has as deceased. The kiosk shows that verdict before recording; the worker alone cannot record
it (no reason, then their own PIN); the branch head's PIN on the same screen can, and the check-in event keeps
the reason and the head's account. Used by tests/ui/test_approval_app.py (under Xvfb) and `./dev screenshots`.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the console driver's layout check

from kivy.core.window import Window  # noqa: E402

from kiosk.core.cases import CaseStatus, Ruling  # noqa: E402
from kiosk.rep.console import Console  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.store.ledger import Kind  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from rep.drive_console import clipped  # noqa: E402
from steps import Step, run_steps  # noqa: E402


def main() -> None:
    kiosk_state, console_state, out, lang = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    worker_pin, head_pin, code = sys.argv[5], sys.argv[6], sys.argv[7]
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    console = Console.start(Installed.open(console_state), ["127.0.0.1"])
    kiosk = build(kiosk_state, simulate=True, lang=lang, profile="test", lan=["127.0.0.1"])
    app = kiosk.app
    results: list[dict[str, Any]] = []
    cases: list[str] = []

    def screen() -> Any:
        return app.root.ids.screens.get_screen(app.root.ids.screens.current)

    def approval() -> Any:
        return app.root.ids.screens.get_screen("approval")

    def keypad(view: Any, digits: str) -> None:
        keys = {b.key: b for b in view.ids.keypad.children}
        for digit in digits:
            keys[digit].dispatch("on_release")

    def sign_in_as_worker() -> None:
        view = app.root.ids.screens.get_screen("sign_in")
        view.list_accounts()
        [shown] = [name for account, name in view._accounts if account == "w1"]
        view.ids.account.text = shown
        keypad(view, worker_pin)
        view.ids.submit.dispatch("on_release")

    def refer() -> None:
        screen().ids.escalate.dispatch("on_release")
        view = app.root.ids.screens.get_screen("escalation")
        view._box("first_name").text, view._box("last_name").text = "حسین", "جعفری"
        view._box("father_name").text = "علی"
        view.ids.year.text = view.ids.year.values[75]
        view.ids.month.text = view.ids.month.values[10]
        view.ids.day.text = view.ids.day.values[2]
        view.submit()

    def case_status() -> str | None:
        known = app.bridge.state.cases
        return known[-1].status.value if known else None

    def decide() -> None:
        [case] = console.service.open_cases()
        cases.append(case.case_id)
        console.service.decide(case.case_id, Ruling.APPROVE, code, "", "")

    def record() -> None:
        [button] = [b for row in screen().ids.rows.children for b in row.children if hasattr(b, "case_id")]
        button.dispatch("on_release")

    def confirm_with(pin: str) -> None:
        approval().ids.preset_registry.dispatch("on_release")
        keypad(approval(), pin)
        approval().ids.confirm.dispatch("on_release")

    state = lambda: app.bridge.state  # noqa: E731
    notice = lambda: state().notice.value if state().notice else None  # noqa: E731
    on_approval = lambda: state().screen.value == "approval"  # noqa: E731
    steps: list[Step] = [
        ("linked", sign_in_as_worker, lambda: app.bridge.rep == "online" and state().screen.value == "ready", 15),
        ("case_delivered", refer, lambda: case_status() == CaseStatus.DELIVERED.value, 10),
        ("decision_arrived", lambda: (screen().ids.back.dispatch("on_release"), decide()),
         lambda: notice() == "decision_arrived", 10),
        ("cases_decided", lambda: screen().ids.cases.dispatch("on_release"),
         lambda: state().screen.value == "cases" and case_status() == CaseStatus.DECIDED.value, 5),
        ("approval_shown", record, lambda: on_approval() and notice() == "head_confirmation", 5),
        ("no_reason", lambda: approval().ids.confirm.dispatch("on_release"),
         lambda: on_approval() and notice() == "approval_reason", 5),
        ("worker_pin", lambda: confirm_with(worker_pin), lambda: on_approval() and notice() == "wrong_pin", 5),
        ("head_confirmed", lambda: confirm_with(head_pin), lambda: state().screen.value == "done", 5),
    ]

    def record_step(name: str, ok: bool, number: int) -> None:
        check = state().approval
        results.append({"step": name, "ok": ok, "screen": state().screen.value, "notice": notice(),
                        "verdict": check.outcome.verdict.value if check else None,
                        "shown": approval().ids.verdict.raw if check else "",
                        "clipped": clipped(app.root) if on_approval() else []})
        Window.screenshot(name=str(out / f"approval-{lang}-{number:02d}-{name}.png"))

    run_steps(app, steps, record_step, settle=0.3)
    try:
        app.run()
    finally:
        kiosk.close()
        console.close()
    installed = Installed.open(kiosk_state)
    ledger = installed.open_ledger()
    reasons = [e.reason for e in ledger.events(installed.claims.device_id) if e.kind is Kind.CHECK_IN
               and e.ref in cases]
    ledger.close()
    print(json.dumps({"results": results, "check_in_reasons": reasons}, ensure_ascii=False))


if __name__ == "__main__":
    main()
