"""Drive the real kiosk app under a display: every step is a user action, a wait, a check and a screenshot.

Run as `python tests/ui/drive.py STATE OUT LANG CODES_JSON PIN`; prints one JSON object with the
results. Used by tests/ui/test_app.py (under Xvfb) and by `./dev screenshots`.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("KIVY_NO_ARGS", "1")

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from drivers.card.fake import FakeCardReader  # noqa: E402
from kiosk.ui.run import build  # noqa: E402


def main() -> None:
    state, out, lang, codes_file, pin = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    codes: dict[str, str] = json.loads(Path(codes_file).read_text())
    out.mkdir(parents=True, exist_ok=True)
    # The 7" touchscreen the appliance ships with, unless KIOSK_WINDOW asks for another (e.g. 1280x800).
    width, height = (int(v) for v in os.environ.get("KIOSK_WINDOW", "800x480").split("x"))
    Window.size = (width, height)
    build_started = time.perf_counter()
    kiosk = build(state, simulate=True, lang=lang, profile="test", demo_codes=codes, lan=["127.0.0.1"])
    app, reader = kiosk.app, kiosk.reader
    assert isinstance(reader, FakeCardReader)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()

    def screen() -> Any:
        return app.root.ids.screens.get_screen(app.root.ids.screens.current)

    def sign_in(account_pin: str) -> None:
        """Touch the PIN in on the on-screen keypad, then the sign-in button."""
        view = app.root.ids.screens.get_screen("sign_in")
        keys = {b.key: b for b in view.ids.keypad.children}
        for digit in account_pin:
            keys[digit].dispatch("on_release")
        view.ids.submit.dispatch("on_release")

    def type_code(code: str) -> None:
        # Typed on the Ready screen's box, as a keyboard-wedge scanner would, even while Done shows.
        view = app.root.ids.screens.get_screen("ready")
        view.ids.code.text = code
        view.check()

    def press(button_id: str) -> None:
        screen().ids[button_id].dispatch("on_release")

    def fill_case_form() -> None:
        """A person whose card is not trusted: names typed, date picked, then referred."""
        view = screen()
        view._box("first_name").text, view._box("last_name").text = "مریم", "رضایی"
        view._box("father_name").text = "حسن"
        view.ids.year.text = view.ids.year.values[35]
        view.ids.month.text = view.ids.month.values[4]
        view.ids.day.text = view.ids.day.values[9]
        view.ids.certificate.text = "۴۵۶"
        view.submit()

    def sign_in_worker() -> None:
        """Pick the new worker in the account list and touch their PIN in."""
        view = app.root.ids.screens.get_screen("sign_in")
        view.ids.account.text = view.ids.account.values[-1]
        sign_in("9876")

    def add_worker() -> None:
        view = screen()
        view.ids.name.text = "زهرا کاظمی"
        keys = {b.key: b for b in view.ids.keypad.children}
        for digit in "9876":
            keys[digit].dispatch("on_release")
        view.add()

    def card(kind: str) -> Callable[[], None]:
        return lambda: [b for b in app.root.ids.dev_panel.children if b.raw == kind][0].dispatch("on_release")

    steps: list[tuple[str, Callable[[], None], str, str | None]] = [
        ("sign_in", lambda: None, "sign_in", None),
        ("wrong_pin", lambda: sign_in("0000"), "sign_in", None),
        ("ready", lambda: sign_in(pin), "ready", None),
        ("verdict_eligible_card", card("eligible"), "verdict", "eligible"),
        ("done", lambda: press("confirm"), "done", None),
        ("verdict_already_voted", lambda: (reader.remove_card(), type_code(codes["eligible"])), "verdict",
         "already_voted"),
        ("verdict_underage", lambda: (press("cancel"), type_code(codes["underage"])), "verdict", "underage"),
        ("verdict_deceased", lambda: (press("cancel"), card("deceased")()), "verdict", "deceased"),
        ("verdict_suspended", lambda: (press("cancel"), reader.remove_card(), type_code(codes["suspended"])),
         "verdict", "suspended"),
        ("verdict_not_found", lambda: (press("cancel"), type_code("0000000019")), "verdict", "not_found"),
        ("verdict_invalid_code", lambda: (press("cancel"), type_code("۱۲۳۴۵")), "verdict", "invalid_code"),
        ("verdict_card_not_trusted", lambda: (press("cancel"), card("untrusted")()), "verdict", "card_not_trusted"),
        ("escalation", lambda: press("escalate"), "escalation", None),
        ("escalation_incomplete", lambda: press("submit"), "escalation", None),
        ("cases", fill_case_form, "cases", None),
        ("reader_unplugged", lambda: (press("back"), reader.unplug()), "ready", None),
        ("staff", lambda: (reader.plug(), press("staff")), "staff", None),
        ("worker_added", add_worker, "staff", None),
        ("back_to_ready", lambda: press("back"), "ready", None),
        ("locked", lambda: press("lock"), "sign_in", None),
        ("worker_signed_in", sign_in_worker, "ready", None),
        ("staff_head_only", lambda: press("staff"), "ready", None),
    ]
    index = [0]
    card_timing: dict[str, float] = {}

    def run_step(_dt: float) -> None:
        if index[0] > 0:
            name, _, want_screen, want_verdict = steps[index[0] - 1]
            state_now = app.bridge.state
            got_verdict = state_now.outcome.verdict.value if state_now.outcome else None
            results.append({"step": name, "screen": app.root.ids.screens.current, "want_screen": want_screen,
                            "verdict": got_verdict, "want_verdict": want_verdict,
                            "notice": state_now.notice.value if state_now.notice else None})
            Window.screenshot(name=str(out / f"{lang}-{index[0]:02d}-{name}.png"))
        if index[0] == len(steps):
            Clock.schedule_once(lambda _d: app.stop(), 0.2)
            return
        name, action, _, _ = steps[index[0]]
        if name == "verdict_eligible_card":
            card_timing["pressed"] = time.perf_counter()
        if name == "ready":
            card_timing["sign_in_pressed"] = time.perf_counter()
        action()
        index[0] += 1
        Clock.schedule_once(run_step, 0.6)

    def watch_verdict(_dt: float) -> None:
        if "sign_in_pressed" in card_timing and "ready_shown" not in card_timing and \
                app.root.ids.screens.current == "ready":
            card_timing["ready_shown"] = time.perf_counter()
        if "pressed" in card_timing and "shown" not in card_timing and \
                app.root.ids.screens.current == "verdict":
            card_timing["shown"] = time.perf_counter()

    Clock.schedule_interval(watch_verdict, 0)
    Clock.schedule_once(lambda _d: card_timing.setdefault("ready_at", time.perf_counter() - started), 0)
    Clock.schedule_once(lambda _d: card_timing.setdefault("first_frame", time.perf_counter() - build_started), 0)
    Clock.schedule_once(run_step, 1.0)
    app.run()
    kiosk.close()
    print(json.dumps({"results": results, "start_to_first_frame_s": card_timing.get("ready_at"),
                      "build_to_first_frame_s": card_timing.get("first_frame"),
                      "sign_in_to_ready_ms": (card_timing["ready_shown"] - card_timing["sign_in_pressed"]) * 1000
                      if "ready_shown" in card_timing else None,
                      "card_to_verdict_ms": (card_timing["shown"] - card_timing["pressed"]) * 1000
                      if "shown" in card_timing else None}))


if __name__ == "__main__":
    main()
