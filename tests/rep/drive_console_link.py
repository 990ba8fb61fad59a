"""The console app with its real service, and a real kiosk process escalating to it over mutual TLS on loopback.

`drive_console_link(lang, out)` provisions a kiosk and a console, runs this file under Xvfb and returns its
JSON report. In the display: the console serves and advertises on 127.0.0.1 as `kiosk-rep app` does, and its
screen is the real console app on that service; the kiosk is tests/net/peer.py's kiosk process (its case
desk, courier and zeroconf browser). The kiosk raises cases; the representative signs in, opens each case
and decides it by touches on the screen and keys on the keyboard; the decision travels back to the kiosk,
which then records (or refuses) the check-in.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APPROVED_CODE = "0010000771"   # not in the test registry: why the person was referred
REASON = "مدارک شناسایی کافی نیست"
REP_PIN = "246813"


def drive_console_link(lang: str, out: Path) -> dict[str, Any]:
    """A fresh kiosk and console, one branch; the console's screen driven under Xvfb."""
    sys.path.insert(0, str(REPO / "tests"))
    from helpers import make_world
    from kiosk.core.staff import Role

    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        kiosk, console = world.installed("kiosk1"), world.console("rep1")
        console.staff_book().set_pin("rep", "نماینده فرماندار", Role.HEAD, REP_PIN)
        env = {**os.environ, "KIVY_HOME": str(Path(tmp) / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
               "PYTHONPATH": os.pathsep.join((str(REPO), str(REPO / "tests"))), "SDL_AUDIODRIVER": "dummy"}
        done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, __file__,
                               str(console.state), str(kiosk.state), str(out), lang], capture_output=True, text=True,
                              env=env, timeout=300)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return report


class KioskProcess:
    """tests/net/peer.py's kiosk: JSON commands on its stdin, one JSON answer a line."""

    def __init__(self, state: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen([sys.executable, str(REPO / "tests" / "net" / "peer.py"), "kiosk", str(state)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.read()

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the kiosk process exited with {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def main() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    sys.path.insert(0, str(REPO / "tests" / "ui"))
    from kivy.core.window import Window

    from kiosk.rep.console import Console
    from kiosk.rep.ui.app import build_console
    from kiosk.state import Installed
    from kiosk.ui.lockdown import StaffGate
    from person import Wait, confirmed, keypad, touch, type_into
    from steps import Step, run_steps, screenshot

    console_state, kiosk_state, out, lang = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    Window.size = (800, 480)
    installed = Installed.open(console_state)
    console = Console.start(installed, ["127.0.0.1"])   # as `kiosk-rep app` starts it
    staff = StaffGate(Installed.open(console_state).staff_book())
    app = build_console(console.service, staff, installed.config.name, installed.claims.branches, lang)
    kiosk = KioskProcess(kiosk_state)
    results: list[dict[str, Any]] = []
    raised: list[str] = []
    at_kiosk: dict[str, str] = {}

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(screen: str) -> bool:
        return bool(app.root.ids.screens.current == screen and app.bridge.state.screen.value == screen)

    def notice() -> str | None:
        state = app.bridge.state
        return state.notice.value if state.notice else None

    def kiosk_cases() -> dict[str, list[Any]]:
        cases: dict[str, list[Any]] = kiosk.ask(cmd="cases")["cases"]
        return cases

    def row(case_id: str) -> Any:
        rows = [r for r in view("queue").ids.rows.children if getattr(r, "case_id", "") == case_id]
        return rows[0] if rows else None

    def sign_in() -> None:
        keypad(view("sign_in").ids.keypad, REP_PIN)
        touch(view("sign_in").ids.submit)

    def raise_case() -> None:
        raised.append(kiosk.ask(cmd="raise")["case_id"])

    def arrived() -> bool:
        return on("queue") and bool(raised) and row(raised[-1]) is not None and app.bridge.state.alert >= 1

    def open_case() -> None:
        touch(row(raised[-1]))

    def reached_kiosk() -> bool:
        return kiosk_cases().get(raised[-1], [None])[0] == "decided"

    def check_in() -> None:
        at_kiosk[raised[-1]] = kiosk.ask(cmd="checkin", case_id=raised[-1])["result"]

    def type_reason() -> Any:
        box = view("case").ids.reason
        return type_into(box, REASON)

    def selected() -> str | None:
        case = app.bridge.state.selected
        return case.case_id if case is not None else None

    def decided_at_console(ruling: str) -> bool:
        return any(c.case_id == raised[-1] and c.decision is not None and c.decision.ruling.value == ruling
                   and c.delivered for c in console.service.recent_decided())

    steps: list[Step] = [
        ("sign_in", lambda: None, lambda: on("sign_in"), 5),
        ("queue", sign_in, lambda: on("queue"), 5),
        ("kiosk_linked", lambda: None, lambda: kiosk.ask(cmd="cases")["consoles"] == 1, 20),
        ("case_arrives", raise_case, arrived, 20),
        ("case_opened", open_case, lambda: on("case") and selected() == raised[-1], 5),
        ("code_typed", lambda: keypad(view("case").ids.keypad, APPROVED_CODE),
         lambda: on("case") and view("case").ids.code.text != "", 5),
        ("approved", lambda: confirmed(view("case").ids.approve), lambda: on("queue") and notice() == "decided", 5),
        ("decision_at_kiosk", lambda: None, reached_kiosk, 20),
        ("kiosk_checked_in", check_in, lambda: raised[-1] in at_kiosk, 5),
        ("delivery_seen", lambda: None, lambda: decided_at_console("approve"), 20),
        ("second_case_arrives", raise_case, arrived, 20),
        ("second_case_opened", open_case, lambda: on("case") and selected() == raised[-1], 5),
        ("reject_without_reason", lambda: touch(view("case").ids.reject),
         lambda: on("case") and notice() == "decision_incomplete", 5),
        ("reason_typed", type_reason, lambda: on("case") and view("case").ids.reason.text == REASON, 10),
        ("rejected", lambda: confirmed(view("case").ids.reject), lambda: on("queue") and notice() == "decided", 5),
        ("rejection_at_kiosk", lambda: None, reached_kiosk, 20),
        ("kiosk_refused", check_in, lambda: raised[-1] in at_kiosk, 5),
    ]

    def record_step(name: str, reached: bool, number: int) -> None:
        state = app.bridge.state
        results.append({"step": name, "ok": reached, "screen": app.root.ids.screens.current, "notice": notice(),
                        "alert": state.alert, "open": [c.case_id for c in state.cases],
                        "problems": [p.value for p in state.problems]})
        screenshot(str(out / f"console-link-{lang}-{number:02d}-{name}.png"))

    run_steps(app, steps, record_step, settle=0.2)
    try:
        app.run()
    finally:
        kiosk.stop()
        staff.stop()
        console.close()
    decided = {c.case_id: [c.decision.ruling.value, c.decision.national_code, c.decision.reason]
               for c in console.service.recent_decided() if c.decision is not None}
    print(json.dumps({"results": results, "raised": raised, "at_kiosk": at_kiosk, "decided": decided},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
