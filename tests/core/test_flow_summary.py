"""The branch head's summary of the day: the figures from the ledger, who may see them, printing, and the idle lock."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PEOPLE, World, code, data_keys
from kiosk.core.cases import CaseForm, CaseReason, Decision, Ruling
from kiosk.core.closing import ClosingSummary, DaySummary, day_hours, day_lines, day_start_utc
from kiosk.core.flow import DONE_SECONDS, CheckInFlow, Notice, Printed, Screen
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.core.staff import Role
from kiosk.desk import CaseDesk, Desk
from kiosk.state import Installed
from kiosk.store.day import DayFigures
from kiosk.store.ledger import Ledger
from kiosk.store.outbox import CaseOutbox
from kiosk.store.replica import Replica
from kiosk.store.staff import StaffBook
from kiosk.trust import certs


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class FakePrinting:
    """The flow's print port: keeps each job and its callback, to be finished when the test says."""

    def __init__(self) -> None:
        self.jobs: list[tuple[DaySummary, Callable[[Printed], None]]] = []
        self.accounts: list[str] = []

    def print_summary(self, summary: DaySummary, done: Callable[[Printed], None], account: str = "") -> None:
        self.jobs.append((summary, done))
        self.accounts.append(account)


@dataclass
class Branch:
    """This kiosk (kiosk1) with a day behind it, and the events it holds from kiosk2."""

    installed: Installed
    ledger: Ledger
    outbox: CaseOutbox
    flow: CheckInFlow
    clock: Clock
    newest: dt.datetime     # the wall time of the newest event: "now" for the figures


def _decide(outbox: CaseOutbox, device: str, ruling: Ruling) -> None:
    case = outbox.raise_case(CaseForm("نرگس", "کاظمی", "جواد", None, "", "", CaseReason.NO_CODE))
    outbox.record_decision(Decision(case.case_id, device, ruling, "", "", "not this branch" * (ruling is Ruling.REJECT),
                                    "2026-11-25T08:00:00+00:00", "rep"), b"s" * 64, b"")


@pytest.fixture
def branch(world: World, tmp_path: Path) -> Branch:
    one, two = world.installed("kiosk1"), world.installed("kiosk2")
    registry, ledger, other = one.open_registry(), one.open_ledger(), two.open_ledger()
    device = one.claims.device_id
    for n in (11, 12, 13):                                  # three check-ins here, the second undone
        ledger.check_in(registry.voter_key(code(n)))
    assert not hasattr(ledger.undo(device, 2, "wrong person"), "reason")
    for n in (21, 22):                                      # two on kiosk2, brought by branch sync
        other.check_in(registry.voter_key(code(n)))
    replica = Replica(ledger, one.authority_cert, certs.cert_pem(one.device_cert), one.claims.branches)
    stored = replica.store(two.claims.device_id, certs.cert_pem(two.device_cert),
                           list(other.events(two.claims.device_id)))
    assert getattr(stored, "new", 0) == 2
    outbox = one.open_outbox(ledger)
    for ruling in (Ruling.APPROVE, Ruling.REJECT, Ruling.REFER):
        _decide(outbox, device, ruling)
    withdrawn = outbox.raise_case(CaseForm("علی", "کریمی", "رضا", None, "", "", CaseReason.NO_CODE))
    outbox.cancel(withdrawn.case_id, "the person left")
    outbox.raise_case(CaseForm("مریم", "رضایی", "حسن", None, "", "", CaseReason.NO_CODE))   # still open
    newest = max(dt.datetime.fromisoformat(w) for (w,) in ledger.connection.execute("SELECT wall FROM events"))
    staff = StaffBook(tmp_path / "staff.json", data_keys(), clock := Clock())
    staff.set_pin("head", "رئیس", Role.HEAD, "135790")
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    desk = Desk(registry, ledger, one.config.rules)
    flow = CheckInFlow(desk, staff, clock, cases=CaseDesk(outbox, one.config.rules, ledger, registry),
                       summary=DayFigures(ledger, outbox, now=lambda: newest), idle_lock_seconds=300)
    return Branch(one, ledger, outbox, flow, clock, newest)


def test_the_figures_count_this_kiosk_the_synced_kiosk_the_undone_check_in_and_each_case(branch: Branch) -> None:
    day = DayFigures(branch.ledger, branch.outbox, now=lambda: branch.newest).today()
    assert day.branch.check_ins == 4 and day.branch.undone == 1      # 2 live here + 2 from kiosk2
    assert (day.kiosk.check_ins, day.kiosk.undone) == (2, 1)
    assert day.other_kiosks == 1
    assert day.kiosk.escalations == {o: 1 for o in ("approved", "rejected", "referred", "cancelled", "open")}
    assert day.branch.escalations == {}                               # other kiosks' cases are not synced
    assert sum(b for _, b, _ in day_hours(day)) == 4 and sum(k for _, _, k in day_hours(day)) == 2
    assert day.day == JalaliDate.from_gregorian(branch.newest.astimezone(TEHRAN).date())


def test_yesterdays_events_are_not_today(branch: Branch) -> None:
    tomorrow = branch.newest + dt.timedelta(days=1)
    day = DayFigures(branch.ledger, branch.outbox, now=lambda: tomorrow).today()
    assert (day.branch.check_ins, day.branch.undone, day.kiosk.check_ins, day.other_kiosks) == (0, 0, 0, 0)
    assert sum(day.kiosk.escalations.values()) == 0 and day_hours(day) == []


def test_today_starts_at_midnight_in_tehran() -> None:
    late = dt.datetime(2026, 5, 22, 23, 59, tzinfo=TEHRAN)
    assert day_start_utc(late) == "2026-05-21T20:30:00.000+00:00"            # Tehran is UTC+3:30
    assert day_start_utc(late + dt.timedelta(minutes=1)) == "2026-05-22T20:30:00.000+00:00"
    assert day_start_utc(dt.datetime(2026, 5, 21, 20, 29, tzinfo=dt.timezone.utc)) == "2026-05-20T20:30:00.000+00:00"


def test_only_the_branch_head_opens_it_from_the_staff_screen_and_back_returns_there(branch: Branch) -> None:
    flow = branch.flow
    flow.show_summary()                                     # locked: nothing happens
    assert flow.state.screen is Screen.SIGN_IN and flow.state.summary is None
    flow.sign_in("w1", "246802")
    flow.show_summary()
    assert (flow.state.screen, flow.state.notice, flow.state.summary) == (Screen.READY, Notice.HEAD_ONLY, None)
    flow.lock()
    flow.sign_in("head", "135790")
    flow.show_staff()
    flow.show_summary()
    assert flow.state.screen is Screen.SUMMARY and flow.state.summary is not None
    assert flow.state.summary.branch.check_ins == 4
    flow.cancel()
    assert flow.state.screen is Screen.STAFF and flow.state.summary is None
    flow.cancel()
    assert flow.state.screen is Screen.READY


def test_a_check_in_made_since_shows_when_the_summary_is_opened_again(branch: Branch) -> None:
    flow = branch.flow
    flow.sign_in("head", "135790")
    flow.show_staff()
    flow.show_summary()
    assert flow.state.summary is not None and flow.state.summary.kiosk.check_ins == 2
    flow.cancel()
    flow.cancel()
    flow.code_entered(PEOPLE["eligible"].code)
    flow.confirm()
    assert flow.state.screen is Screen.DONE
    branch.clock.now += DONE_SECONDS + 1     # Done goes back to Ready on its own
    flow.tick()
    flow.show_staff()
    flow.show_summary()
    assert flow.state.summary is not None
    assert (flow.state.summary.branch.check_ins, flow.state.summary.kiosk.check_ins) == (5, 3)


def test_the_idle_lock_closes_the_summary(branch: Branch) -> None:
    flow = branch.flow
    flow.sign_in("head", "135790")
    flow.show_staff()
    flow.show_summary()
    branch.clock.now += 299
    flow.tick()
    assert flow.state.screen is Screen.SUMMARY
    branch.clock.now += 1
    flow.tick()
    assert (flow.state.screen, flow.state.role, flow.state.summary) == (Screen.SIGN_IN, None, None)


def test_printing_says_how_it_went_and_one_job_runs_at_a_time(branch: Branch) -> None:
    flow = branch.flow
    flow.sign_in("head", "135790")
    flow.show_staff()
    flow.show_summary()
    flow.print_summary()
    assert flow.state.notice is Notice.NO_PRINTER           # no printer attached
    printing = FakePrinting()
    flow.attach_printer(printing)
    flow.print_summary()
    flow.print_summary()                                    # pressed twice: still one job
    assert len(printing.jobs) == 1 and flow.state.printing and flow.state.notice is Notice.PRINTING
    assert printing.accounts == ["head"]                    # the closing receipt is the head's, by account id
    summary, done = printing.jobs[0]
    assert summary == flow.state.summary and summary.branch.check_ins == 4
    done(Printed.PRINTED)
    assert (flow.state.printing, flow.state.notice) == (False, Notice.PRINTED)
    for result, notice in ((Printed.PAPER_OUT, Notice.PRINTER_PAPER_OUT), (Printed.OFFLINE, Notice.PRINTER_OFFLINE),
                           (Printed.ERROR, Notice.PRINTER_ERROR)):
        flow.print_summary()
        printing.jobs[-1][1](result)
        assert flow.state.notice is notice and not flow.state.printing
    assert len(printing.jobs) == 4
    flow.print_summary()
    flow.lock()                                             # the head walked away; the job ends later
    printing.jobs[-1][1](Printed.PAPER_OUT)
    assert (flow.state.screen, flow.state.notice, flow.state.printing) == (Screen.SIGN_IN, None, False)


def test_the_printed_lines_carry_counts_only_persian_first() -> None:
    at = dt.datetime(2026, 5, 22, 18, 5, tzinfo=TEHRAN)
    day = DaySummary(at, ClosingSummary(12, 1, {8: 7, 10: 5}), ClosingSummary(5, 1, {8: 5}, {"approved": 1,
                                                                                            "open": 2}), 2)
    fa, en = day_lines(day, "fa"), day_lines(day, "en")
    assert fa[:3] == ["کل شعبه (این دستگاه و ۲ دستگاه دیگر):", "مشارکت ثبت‌شده: ۱۲", "ثبت‌های لغوشده: ۱"]
    assert "پرونده‌های ارجاعی این دستگاه: ۳" in fa and "  تأیید: ۱" in fa
    assert fa[-3:] == ["  ساعت ۰۸: ۷ / ۵", "  ساعت ۰۹: ۰ / ۰", "  ساعت ۱۰: ۵ / ۰"]
    assert en[:4] == ["Whole branch (this kiosk and 2 others):", "Check-ins recorded: 12", "Check-ins undone: 1",
                      "This kiosk:"]
    assert "This kiosk's cases: 3" in en and en[-3] == "  08:00  7 / 5"
    assert not any(c in "0123456789" for line in fa for c in line)
    alone = day_lines(DaySummary(at, ClosingSummary(), ClosingSummary()), "en")
    assert alone[0] == "Whole branch (this kiosk only):" and not any("per hour" in line for line in alone)

