"""Drive the real kiosk app with a real console: an approval of a deceased person's code needs the branch head.

Run as `python tests/ui/drive_approval.py KIOSK_STATE CONSOLE_STATE OUT LANG WORKER_PIN HEAD_PIN CODE`; prints
one JSON object. A poll worker refers a person with no card; the representative approves them with CODE, which
the registry has as deceased. The kiosk shows that verdict before recording; the worker alone cannot record
it (no reason, then their own PIN); the branch head's PIN on the same screen can, and the check-in event keeps
the reason and the head's account. Every kiosk action is a touch in the window or keys typed into a touched box
(tests/ui/person.py); the representative's decision is the console service's. Used by
tests/ui/test_approval_app.py (under Xvfb) and `./dev screenshots`.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.core.window import Window  # noqa: E402

from kiosk.core.cases import CaseStatus, Ruling  # noqa: E402
from kiosk.rep.console import Console  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.store.ledger import Kind  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import Wait, fill_case_form, keypad, pick, touch  # noqa: E402
from fit import clipped, small_targets  # noqa: E402
from steps import Step, run_steps, screenshot  # noqa: E402


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
    errors: list[str] = []

    state = lambda: app.bridge.state  # noqa: E731
    notice = lambda: state().notice.value if state().notice else None  # noqa: E731

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def approval() -> Any:
        return view("approval")

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen and state().screen.value == screen)

    def sign_in_as_worker() -> Iterator[Wait]:
        """Pick the poll worker's name in the account list, touch their PIN in and sign in."""
        yield lambda: on("sign_in")
        screen = view("sign_in")
        [shown] = [name for account, name in screen._accounts if account == "w1"]   # as the list shows it
        yield from pick(screen.ids.account, shown)
        keypad(screen.ids.keypad, worker_pin)
        touch(screen.ids.submit)

    def refer() -> Iterator[Wait]:
        """Refer from Ready: names typed, the birth date picked from the lists, then sent."""
        touch(view("ready").ids.escalate)
        yield lambda: on("escalation")
        form = view("escalation")
        yield from fill_case_form(form, ("حسین", "جعفری", "علی"), (75, 10, 2))
        touch(form.ids.submit)

    def case_status() -> str | None:
        known = state().cases
        return known[-1].status.value if known else None

    def back_and_decide() -> Iterator[Wait]:
        """Staff go back to Ready; meanwhile the representative approves the case on the console."""
        touch(view("cases").ids.back)
        yield lambda: on("ready")
        [case] = console.service.open_cases()
        cases.append(case.case_id)
        console.service.decide(case.case_id, Ruling.APPROVE, code, "", "")

    def record() -> None:
        """Touch the case's check-in button in the list."""
        [button] = [b for row in view("cases").ids.rows.children for b in row.children if hasattr(b, "case_id")]
        touch(button)

    def confirm_with(pin: str) -> None:
        """Touch the civil-registration reason, touch the PIN in on the approval screen's keypad, confirm."""
        touch(approval().ids.preset_registry)
        keypad(approval().ids.keypad, pin)
        touch(approval().ids.confirm)

    def says(key: str) -> Callable[[], bool]:
        """On the approval screen with this notice, and its words drawn in the notice line."""
        return lambda: on("approval") and notice() == key and approval().ids.notice.raw != ""

    steps: list[Step] = [
        ("linked", sign_in_as_worker, lambda: app.bridge.rep == "online" and on("ready"), 15),
        ("case_delivered", refer, lambda: on("cases") and case_status() == CaseStatus.DELIVERED.value, 20),
        ("decision_arrived", back_and_decide, lambda: on("ready") and notice() == "decision_arrived", 10),
        ("cases_decided", lambda: touch(view("ready").ids.cases),
         lambda: on("cases") and case_status() == CaseStatus.DECIDED.value, 5),
        ("approval_shown", record, says("head_confirmation"), 5),
        ("no_reason", lambda: touch(approval().ids.confirm), says("approval_reason"), 5),
        ("worker_pin", lambda: confirm_with(worker_pin), says("wrong_pin"), 5),
        ("head_confirmed", lambda: confirm_with(head_pin), lambda: on("done"), 5),
    ]

    def record_step(name: str, ok: bool, number: int) -> None:
        check = state().approval
        current = app.root.ids.screens.current
        shown = view(current)
        results.append({"step": name, "ok": ok, "screen": state().screen.value, "notice": notice(),
                        "on_screen": current,
                        "notice_text": str(shown.ids.notice.raw) if "notice" in shown.ids else "",
                        "title": str(shown.ids.title.raw) if "title" in shown.ids else "",
                        "reason": str(approval().ids.reason.text) if current == "approval" else "",
                        "verdict": check.outcome.verdict.value if check else None,
                        "shown": approval().ids.verdict.raw if check else "",
                        "clipped": clipped(app.root), "small": small_targets(app.root)})
        screenshot(str(out / f"approval-{lang}-{number:02d}-{name}.png"))

    run_steps(app, steps, record_step, settle=0.3, errors=errors)
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
    print(json.dumps({"results": results, "errors": errors, "check_in_reasons": reasons}, ensure_ascii=False))


if __name__ == "__main__":
    main()
