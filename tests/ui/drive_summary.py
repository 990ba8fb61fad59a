"""Drive the real kiosk app to the branch head's summary of the day: figures, printing, back, and a worker refused.

Run as `python tests/ui/drive_summary.py STATE OUT LANG PIN WORKER_PIN CODE`; prints one JSON object.
STATE's ledger already holds a day (tests/ui/screenshots.py makes it): check-ins of its own, one of them
undone, another kiosk's check-ins brought by branch sync, and one case of each outcome. The head checks CODE
in through the app, then opens the summary from the staff screen and prints it on the simulated printer. Every
action is a touch in the window or keys typed into a touched box (tests/ui/person.py).
Used by tests/ui/test_summary_app.py (under Xvfb) and by `./dev screenshots`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kivy.core.window import Window  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from drivers.printer import FakePrinter  # noqa: E402
from kiosk.ui.run import build  # noqa: E402
from person import Wait, answer, confirmed, keypad, pick, question_shown, touch, type_into  # noqa: E402
from fit import clipped, small_targets  # noqa: E402
from steps import Step, run_and_report, screenshot  # noqa: E402


def texts(widget: Any) -> list[str]:
    """Every text a widget and its children show: the logical `raw` of our labels, else what is drawn."""
    found = []
    if isinstance(widget, Label) and widget.opacity > 0 and widget.height > 0:
        found.append(str(getattr(widget, "raw", "") or widget.text))
    for child in widget.children:
        found.extend(texts(child))
    return found


def rewrapped(root: Any) -> list[str]:
    """Labels whose lines Kivy wrapped once more: it wraps in visual order, so Persian would read bottom to top."""
    found = []
    if isinstance(root, Label) and root.text and root.opacity > 0 and root.height > 0:
        drawn = getattr(root._label, "_cached_lines", None)
        if drawn is not None and len(drawn) > root.text.count("\n") + 1:
            found.append(str(getattr(root, "raw", "") or root.text)[:40])
    for child in root.children:
        found.extend(rewrapped(child))
    return found


def main() -> None:
    state_dir, out, lang, pin, worker_pin, code = (Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4],
                                                   sys.argv[5], sys.argv[6])
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in os.environ.get("KIOSK_WINDOW", "800x480").split("x"))
    Window.size = (width, height)
    # network=False: no other kiosk or console runs here; the other kiosk's events are already in the ledger.
    kiosk = build(state_dir, simulate=True, lang=lang, profile="test", network=False)
    app = kiosk.app
    assert kiosk.printer is not None and isinstance(kiosk.printer.device, FakePrinter)
    printer = kiosk.printer.device
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    state = lambda: app.bridge.state  # noqa: E731

    def view(name: str) -> Any:
        return app.root.ids.screens.get_screen(name)

    def on(name: str) -> bool:
        return bool(app.root.ids.screens.current == name and state().screen.value == name)

    def sign_in(account_pin: str, last: bool = False) -> Callable[[], Iterator[Wait]]:
        def act() -> Iterator[Wait]:
            yield lambda: on("sign_in")
            screen = view("sign_in")
            if last:  # the poll worker is the last account in the list
                yield from pick(screen.ids.account, screen.ids.account.values[-1])
            keypad(screen.ids.keypad, account_pin)
            touch(screen.ids.submit)
        return act

    def type_code() -> Iterator[Wait]:
        yield from type_into(view("ready").ids.code, code)
        touch(view("ready").ids.check)

    def press(screen: str, button: str) -> Callable[[], None]:
        return lambda: touch(view(screen).ids[button])

    def paper_out_then_print() -> Iterator[Wait]:
        printer.set_paper_out()
        yield from confirmed(view("summary").ids.print_summary)

    def lock() -> Iterator[Wait]:
        press("staff", "back")()
        yield lambda: on("ready")
        press("ready", "lock")()

    def is_(name: str, notice: str | None = None) -> Callable[[], bool]:
        return lambda: on(name) and (notice is None or (
            state().notice is not None and state().notice.value == notice))

    def figures() -> dict[str, Any]:
        """What the summary screen shows, read from its widgets."""
        screen = view("summary")
        cells = [[str(c.raw) for c in reversed(grid.children)] for grid in (screen.ids.totals, screen.ids.hours)]
        return {"title": screen.ids.title.raw, "totals": cells[0], "hours": cells[1],
                "sources": screen.ids.sources.raw, "cases_title": screen.ids.cases_title.raw,
                "cases": str(screen.ids.cases.raw).splitlines(),
                "print_disabled": bool(screen.ids.print_summary.disabled)}

    steps: list[Step] = [
        ("sign_in", lambda: None, is_("sign_in"), 3),
        ("ready", sign_in(pin), is_("ready"), 5),
        ("verdict", type_code, lambda: is_("verdict")() and state().outcome.verdict.value == "eligible", 5),
        ("done", press("verdict", "confirm"), is_("done"), 5),
        ("ready_again", lambda: None, is_("ready"), 8),
        ("staff", press("ready", "staff"), is_("staff"), 5),
        ("summary", press("staff", "summary"), lambda: is_("summary")() and view("summary").ids.title.raw != "", 5),
        # The print asks first and says it does not end voting; nothing prints before the answer.
        ("print_asked", press("summary", "print_summary"),
         lambda: is_("summary")() and question_shown() is not None and not state().printing, 5),
        ("printed", lambda: answer(True), is_("summary", "printed"), 10),
        ("paper_out", paper_out_then_print, is_("summary", "printer_paper_out"), 10),
        ("back_to_staff", press("summary", "back"), is_("staff"), 5),
        ("locked", lock, is_("sign_in"), 5),
        ("worker_ready", sign_in(worker_pin, last=True), is_("ready"), 10),
        # A poll worker has neither the Staff button nor the summary's on the screen.
        ("worker_no_summary", lambda: None,
         lambda: is_("ready")() and view("ready").ids.staff.get_root_window() is None, 5),
    ]

    def record_step(name: str, ok: bool, number: int) -> None:
        current = app.root.ids.screens.current
        results.append({"step": name, "ok": ok, "screen": state().screen.value,
                        "notice": state().notice.value if state().notice else None,
                        "printed": len(printer.printed), "paper_width": [img.width for img in printer.printed],
                        "figures": figures() if current == "summary" else None,
                        "texts": texts(view(current)), "clipped": clipped(app.root), "small": small_targets(app.root), "on_screen": current,
                        "notice_text": str(view(current).ids.notice.raw) if "notice" in view(current).ids else "",
                        "summary_on_window": any(view(s).ids.summary.get_root_window() is not None
                                                 for s in ("staff", "ready")),
                        "rewrapped": rewrapped(app.root)})
        screenshot(str(out / f"sum-{lang}-{number:02d}-{name}.png"))

    run_and_report(app, steps, record_step, kiosk, results, errors, start_after=0.8, settle=0.3)


if __name__ == "__main__":
    main()
