"""The branch head's summary of the day in the real app under Xvfb, and its receipt through the printer wiring."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from kivy.clock import Clock

from drivers.printer import FakePrinter
from drivers.receipts import closing_layout, render
from helpers import PEOPLE, World, code, data_keys
from kiosk.core.closing import day_lines
from kiosk.core.flow import CheckInFlow, Notice, Screen
from kiosk.core.jalali import persian_digits
from kiosk.core.staff import Role
from kiosk.desk import Desk
from kiosk.store.day import DayFigures
from kiosk.store.staff import StaffBook
from kiosk.ui.app import Letterhead, PrinterWiring
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.text import EN, FA
from screenshots import drive_summary

STEPS = ["sign_in", "ready", "verdict", "done", "ready_again", "staff", "summary", "print_asked", "printed",
         "paper_out", "back_to_staff", "locked", "worker_ready", "worker_no_summary"]
# What must never be on the summary: the voters' codes (any digits) and every name the kiosk holds.
CODES = [PEOPLE["eligible"].code, *(code(n) for n in (11, 12, 13, 21, 22))]
NAMES = ["نرگس", "کاظمی", "جواد", "رئیس شعبه", PEOPLE["eligible"].first, PEOPLE["eligible"].last,
         PEOPLE["eligible"].father]


def _personal(texts: list[str]) -> list[str]:
    return [t for t in texts for word in [*CODES, *map(persian_digits, CODES), *NAMES] if word in t]


@pytest.mark.parametrize("lang,window", [("fa", "800x480"), ("en", "800x480"), ("fa", "1280x800"),
                                         ("en", "1280x800")])
def test_the_head_sees_todays_figures_and_prints_them_and_a_worker_cannot(tmp_path: Path, lang: str,
                                                                         window: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_summary(lang, tmp_path, window=window)
    results = report["results"]
    assert report["errors"] == []   # every touch reached its widget
    assert isinstance(results, list) and [r["step"] for r in results] == STEPS
    for step in results:
        assert step["ok"], step
        assert step["clipped"] == [], step  # nothing cut off or pushed out of its box
        assert step["small"] == [], step    # every touch target is 48 px or more
        assert step["rewrapped"] == [], step  # every line wrapped by us, in reading order
    by = {r["step"]: r for r in results}
    words = FA if lang == "fa" else EN
    n = persian_digits if lang == "fa" else str
    shown = by["summary"]["figures"]
    # Rows of the table as read: the label, the whole branch, this kiosk (Persian lays them out right to left).
    rows = [shown["totals"][i:i + 3] for i in (0, 3, 6)]
    if lang == "fa":
        rows = [row[::-1] for row in rows]
    assert rows[0] == ["", words["summary.branch"], words["summary.kiosk"]]
    # Three check-ins here before (one undone), two synced from the other kiosk, one through the app just now.
    assert rows[1] == [words["summary.check_ins"], n(5), n(3)]
    assert rows[2] == [words["summary.undone"], n(1), n(1)]
    assert shown["sources"] == words["summary.other"]
    assert shown["cases_title"] == words["summary.cases"].format(count=n(5))
    assert shown["cases"] == [words[f"summary.outcome.{outcome}"].format(count=n(1))
                              for outcome in ("approved", "rejected", "referred", "cancelled", "open")]
    hours = [shown["hours"][i:i + 3] for i in range(0, len(shown["hours"]), 3)]
    digits = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")
    per_hour = [[int(cell.translate(digits)) for cell in (row[::-1] if lang == "fa" else row)[1:]] for row in hours]
    assert [sum(col) for col in zip(*per_hour)] == [5, 3]   # every live check-in is in some Tehran hour
    assert shown["title"].startswith(words["summary.title"].split("{day}")[0])
    assert by["print_asked"]["printed"] == 0        # asked first: nothing printed before the answer
    assert (by["printed"]["notice"], by["printed"]["printed"], by["printed"]["paper_width"]) == ("printed", 1, [384])
    assert (by["paper_out"]["notice"], by["paper_out"]["printed"]) == ("printer_paper_out", 1)
    assert by["back_to_staff"]["screen"] == "staff"
    worker = by["worker_no_summary"]
    assert worker["on_screen"] == "ready" and not worker["summary_on_window"]   # nowhere a worker could touch it
    assert by["printed"]["notice_text"] == words["notice.printed"]
    assert by["paper_out"]["notice_text"] == words["notice.printer_paper_out"]
    for step in ("summary", "printed", "paper_out"):
        assert _personal(by[step]["texts"]) == [], step
    assert _personal(by["staff"]["texts"]) != []    # the check would notice a name: the staff screen shows some
    assert len(list(tmp_path.glob(f"sum-{lang}-*.png"))) == len(STEPS)


def _until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the bridge never delivered"
        Clock.tick()
        time.sleep(0.01)


def test_the_summary_prints_as_the_close_of_polls_receipt_and_a_failure_is_a_notice(world: World,
                                                                                   tmp_path: Path) -> None:
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    outbox = installed.open_outbox(ledger)
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("head", "رئیس", Role.HEAD, "135790")
    flow = CheckInFlow(Desk(registry, ledger, installed.config.rules), staff, time.monotonic,
                       summary=DayFigures(ledger, outbox))
    bridge = FlowBridge(flow)
    printer = FakePrinter()
    head = Letterhead("1001", "دبستان فردوسی", installed.claims.device_id)
    wiring = PrinterWiring(printer, bridge, every=60, letterhead=head)
    flow.attach_printer(wiring)
    try:
        flow.sign_in("head", "135790")
        flow.code_entered(PEOPLE["eligible"].code)
        flow.confirm()
        flow.cancel()
        flow.show_staff()
        flow.show_summary()
        flow.print_summary()
        assert flow.state.printing and flow.state.notice is Notice.PRINTING
        _until(lambda: bridge.state.notice is Notice.PRINTED)
        summary = flow.state.summary
        assert summary is not None and summary.kiosk.check_ins == 1 and not flow.state.printing
        expected = render(closing_layout(branch_code="1001", branch_name="دبستان فردوسی", day=summary.day,
                                         at=summary.at.time(), device_id=installed.claims.device_id,
                                         lines_fa=day_lines(summary, "fa"), lines_en=day_lines(summary, "en")))
        assert len(printer.printed) == 1
        assert (printer.printed[0].size, printer.printed[0].tobytes()) == (expected.size, expected.tobytes())
        printer.go_offline()
        flow.print_summary()
        _until(lambda: bridge.state.notice is Notice.PRINTER_OFFLINE)
        assert len(printer.printed) == 1 and flow.state.screen is Screen.SUMMARY
    finally:
        wiring.close()
        ledger.close()


def test_the_summary_has_words_in_both_languages_and_persian_digits_only() -> None:
    assert FA.keys() == EN.keys()
    keys = [k for k in FA if k.startswith("summary.")] + ["staff.summary"] + \
        [f"notice.{n.value}" for n in (Notice.NO_PRINTER, Notice.PRINTING, Notice.PRINTED, Notice.PRINTER_PAPER_OUT,
                                       Notice.PRINTER_OFFLINE, Notice.PRINTER_ERROR)]
    assert all(k in FA for k in keys)
    assert not any(c in "0123456789" for k in keys for c in FA[k])
    assert FA["staff.summary"] == "خلاصه رأی‌گیری امروز"
    # Printing at 07:51 must not read as closing the polls: the button says "so far", the question says it does not end.
    assert "پایان" not in FA["summary.print"] and "رأی‌گیری را پایان نمی‌دهد" in FA["confirm.print"]
    assert FA["summary.outcome.referred"].startswith("ارجاع به ثبت احوال") and "ثبت مشارکت" == FA["summary.check_ins"]
