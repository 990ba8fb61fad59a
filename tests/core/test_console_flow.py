"""The representative's console without a screen: sign-in, the alert, deciding, cases that close, idle lock."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.core.cases import CaseReason, DecisionProblem, Ruling
from kiosk.core.console import KioskSeen, RepCase, RepCaseStatus
from kiosk.core.console_flow import (ConsoleFlow, ConsoleNotice, ConsoleScreen, ConsoleState, minutes_waiting,
                                     reporting_anomalies, reporting_duplicates, skew_shown)
from kiosk.core.staff import Role
from kiosk.store.staff import StaffBook
from rep.fakes import FakeCaseBook, form
from test_core_purity import forbidden_in, imported_by_core
from helpers import data_keys

VALID = "0499370899"                      # a valid national code
VALID_FA = "۰۴۹۹۳۷۰۸۹۹"                   # the same, typed on a Persian keypad


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book() -> FakeCaseBook:
    book = FakeCaseBook()
    book.receive("E-AB12CD-0001", minutes_ago=12)
    book.receive("E-AB12CD-0002", case_form=form("علی", "کریمی", reason=CaseReason.NOT_FOUND), minutes_ago=3)
    return book


@pytest.fixture
def staff(tmp_path: Path, clock: Clock) -> StaffBook:
    staff = StaffBook(tmp_path / "staff.json", data_keys(), clock)
    staff.set_pin("rep", "نماینده فرماندار", Role.HEAD, "246802")
    return staff


@pytest.fixture
def flow(book: FakeCaseBook, staff: StaffBook, clock: Clock) -> ConsoleFlow:
    return ConsoleFlow(book, staff, clock)


def signed_in(flow: ConsoleFlow) -> ConsoleFlow:
    flow.sign_in("rep", "246802")
    assert flow.state.screen is ConsoleScreen.QUEUE
    return flow


def test_sign_in_refuses_a_wrong_pin_then_locks_out_and_lets_the_right_one_in(flow: ConsoleFlow,
                                                                                 clock: Clock) -> None:
    assert flow.state.screen is ConsoleScreen.SIGN_IN and flow.state.accounts[0][0] == "rep"
    flow.sign_in("rep", "1111")
    assert (flow.state.screen, flow.state.notice, flow.state.notice_detail) == \
        (ConsoleScreen.SIGN_IN, ConsoleNotice.WRONG_PIN, 2.0)
    flow.sign_in("nobody", "246802")
    assert flow.state.notice is ConsoleNotice.UNKNOWN_ACCOUNT
    flow.sign_in("rep", "1111")
    flow.sign_in("rep", "1111")
    assert flow.state.notice is ConsoleNotice.LOCKED_OUT and flow.state.notice_detail == 30.0
    flow.sign_in("rep", "246802")  # the right PIN is not even checked while locked
    assert (flow.state.screen, flow.state.notice) == (ConsoleScreen.SIGN_IN, ConsoleNotice.LOCKED_OUT)
    clock.now += 31
    flow.sign_in("rep", "۲۴۶۸۰۲")
    assert (flow.state.screen, flow.state.account, flow.state.notice) == (ConsoleScreen.QUEUE, "rep", None)


def test_the_queue_lists_open_cases_oldest_first_and_waiting_minutes_count_from_receipt(
        flow: ConsoleFlow) -> None:
    state = signed_in(flow).state
    assert [c.case_id for c in state.cases] == ["E-AB12CD-0001", "E-AB12CD-0002"]
    now = dt.datetime.now(dt.timezone.utc)
    assert [minutes_waiting(c, now) for c in state.cases] == [12, 3]
    assert minutes_waiting(state.cases[0], now - dt.timedelta(hours=1)) == 0  # a clock set back: never negative


def test_waiting_cases_at_start_up_and_new_arrivals_raise_the_alert_until_the_queue_is_seen(
        flow: ConsoleFlow, book: FakeCaseBook) -> None:
    assert flow.state.alert == 2  # after a restart nobody has looked at these yet
    book.receive("E-AB12CD-0003")
    flow.book_changed()
    assert flow.state.alert == 3  # heard even while the console is locked
    signed_in(flow)
    assert flow.state.alert == 0
    book.receive("E-FF0011-0001", kiosk="ff0011aa22bb33cc")
    flow.book_changed()
    flow.book_changed()  # the same case told twice counts once
    assert flow.state.alert == 1 and [c.case_id for c in flow.state.cases][-1] == "E-FF0011-0001"
    flow.seen()
    assert flow.state.alert == 0
    book.receive("E-FF0011-0002", kiosk="ff0011aa22bb33cc")
    flow.book_changed()
    flow.show_kiosks()
    assert flow.state.alert == 1  # the kiosks screen is not the queue
    flow.show_queue()
    assert flow.state.alert == 0


def test_approve_needs_a_code_or_reference_and_a_persian_code_reaches_the_book_as_ascii(
        flow: ConsoleFlow, book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0001")
    assert flow.state.screen is ConsoleScreen.CASE and flow.state.selected is not None
    assert flow.state.selected.form.first_name == "مریم"
    flow.decide(Ruling.APPROVE, "", "", "")
    assert (flow.state.screen, flow.state.notice, flow.state.problems) == \
        (ConsoleScreen.CASE, ConsoleNotice.DECISION_INCOMPLETE, (DecisionProblem.CODE_OR_REFERENCE,))
    flow.decide(Ruling.APPROVE, "۱۲۳۴۵۶۷۸۹۰", "", "")
    assert flow.state.problems == (DecisionProblem.CODE,) and book.decisions == []
    flow.decide(Ruling.APPROVE, VALID_FA, "", "")
    assert (flow.state.screen, flow.state.notice, flow.state.selected) == \
        (ConsoleScreen.QUEUE, ConsoleNotice.DECIDED, None)
    assert flow.state.problems == () and flow.state.notice_case is not None
    assert flow.state.notice_case.case_id == "E-AB12CD-0001"
    assert [c.case_id for c in flow.state.cases] == ["E-AB12CD-0002"]
    assert flow.state.recent[0].decision is not None and flow.state.recent[0].decision.ruling is Ruling.APPROVE
    assert [(d.case_id, d.ruling, d.national_code) for d in book.decisions] == \
        [("E-AB12CD-0001", Ruling.APPROVE, VALID)]


def test_reject_needs_a_reason_and_refer_needs_nothing(flow: ConsoleFlow, book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0002")
    flow.decide(Ruling.REJECT, "", "", "   ")
    assert flow.state.notice is ConsoleNotice.DECISION_INCOMPLETE and flow.state.problems == (DecisionProblem.REASON,)
    flow.decide(Ruling.REJECT, "", "", "شخص حاضر نشد")
    assert flow.state.notice is ConsoleNotice.DECIDED
    flow.open_case("E-AB12CD-0001")
    flow.decide(Ruling.REFER, "", "", "")
    assert flow.state.notice is ConsoleNotice.DECIDED and flow.state.cases == ()
    assert [(d.ruling, d.reason) for d in book.decisions] == [(Ruling.REJECT, "شخص حاضر نشد"), (Ruling.REFER, "")]
    assert [c.case_id for c in flow.state.recent] == ["E-AB12CD-0001", "E-AB12CD-0002"]  # newest first


def test_a_case_withdrawn_while_open_returns_to_the_queue_and_keeps_the_alert_of_a_new_one(
        flow: ConsoleFlow, book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0001")
    book.withdraw("E-AB12CD-0001")
    book.receive("E-AB12CD-0003")
    flow.book_changed()
    state = flow.state
    assert (state.screen, state.notice, state.selected, state.alert) == \
        (ConsoleScreen.QUEUE, ConsoleNotice.CASE_GONE, None, 1)
    assert state.notice_case is not None and state.notice_case.status is RepCaseStatus.CANCELLED
    assert [c.case_id for c in state.cases] == ["E-AB12CD-0002", "E-AB12CD-0003"]
    flow.open_case("E-AB12CD-0001")  # a stale row touched: still the queue, still said
    assert (flow.state.screen, flow.state.notice) == (ConsoleScreen.QUEUE, ConsoleNotice.CASE_GONE)


def test_a_case_decided_elsewhere_or_gone_from_the_book_closes_too(flow: ConsoleFlow, book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0002")
    book.decide("E-AB12CD-0002", Ruling.REFER, "", "", "")  # another console of the same branch
    flow.decide(Ruling.APPROVE, VALID, "", "")
    assert (flow.state.screen, flow.state.notice) == (ConsoleScreen.QUEUE, ConsoleNotice.CASE_GONE)
    assert flow.state.notice_case is not None and flow.state.notice_case.status is RepCaseStatus.DECIDED
    assert len(book.decisions) == 1
    flow.open_case("E-AB12CD-0001")
    book.forget("E-AB12CD-0001")
    flow.book_changed()
    assert (flow.state.screen, flow.state.notice) == (ConsoleScreen.QUEUE, ConsoleNotice.CASE_GONE)


class RacingBook(FakeCaseBook):
    """The kiosk's withdrawal lands between the flow's look at the case and the book's decision."""

    def decide(self, case_id: str, ruling: Ruling, national_code: str, reference: str,
               reason: str) -> RepCase | list[DecisionProblem]:
        self.withdraw(case_id)
        return super().decide(case_id, ruling, national_code, reference, reason)


def test_a_case_withdrawn_while_being_decided_is_gone_not_incomplete(staff: StaffBook, clock: Clock) -> None:
    book = RacingBook()
    book.receive("E-AB12CD-0001")
    flow = signed_in(ConsoleFlow(book, staff, clock))
    flow.open_case("E-AB12CD-0001")
    flow.decide(Ruling.APPROVE, VALID, "", "")
    assert (flow.state.screen, flow.state.notice, flow.state.problems) == \
        (ConsoleScreen.QUEUE, ConsoleNotice.CASE_GONE, ())
    assert flow.state.notice_case is not None and flow.state.notice_case.status is RepCaseStatus.CANCELLED
    assert book.decisions == []


def test_an_unchanged_case_stays_open_when_the_book_changes(flow: ConsoleFlow, book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0001")
    flow.decide(Ruling.REJECT, "", "", "")
    book.receive("E-AB12CD-0003")
    flow.book_changed()
    state = flow.state
    assert state.screen is ConsoleScreen.CASE and state.selected is not None
    assert state.selected.case_id == "E-AB12CD-0001" and state.problems == (DecisionProblem.REASON,)
    assert state.alert == 1


def test_a_failing_book_says_not_recorded_and_keeps_the_case_on_screen(flow: ConsoleFlow,
                                                                      book: FakeCaseBook) -> None:
    signed_in(flow).open_case("E-AB12CD-0001")
    book.fail_next = OSError(28, "No space left on device")
    flow.decide(Ruling.APPROVE, VALID, "", "")
    assert (flow.state.screen, flow.state.notice) == (ConsoleScreen.CASE, ConsoleNotice.NOT_RECORDED)
    assert book.decisions == []
    flow.decide(Ruling.APPROVE, "", "12/3456-B", "")  # a civil-registration reference instead of a code
    assert flow.state.notice is ConsoleNotice.DECIDED and book.decisions[0].reference == "12/3456-B"


def test_an_idle_console_locks_itself_and_book_changes_do_not_count_as_activity(
        flow: ConsoleFlow, book: FakeCaseBook, clock: Clock) -> None:
    signed_in(flow).open_case("E-AB12CD-0001")
    clock.now += 599
    book.receive("E-AB12CD-0003")
    flow.book_changed()
    flow.tick()
    assert flow.state.screen is ConsoleScreen.CASE
    clock.now += 1
    flow.tick()
    assert (flow.state.screen, flow.state.account, flow.state.selected) == (ConsoleScreen.SIGN_IN, None, None)
    flow.open_case("E-AB12CD-0002")  # nothing works while locked
    flow.show_kiosks()
    flow.seen()
    assert flow.state.screen is ConsoleScreen.SIGN_IN and flow.state.alert == 1


def test_the_kiosks_screen_lists_every_kiosk_and_goes_back_to_the_queue(flow: ConsoleFlow,
                                                                        book: FakeCaseBook) -> None:
    book.seen(KioskSeen("ab12cd34ef567890", "1001", True, "2026-11-25T08:00:00+00:00", 41, 2, 1_200))
    book.seen(KioskSeen("ff0011aa22bb33cc", "1002", False, "", 0, 0, -95_000))
    flow.show_kiosks()
    assert flow.state.screen is ConsoleScreen.SIGN_IN  # not before sign-in
    signed_in(flow).show_kiosks()
    assert flow.state.screen is ConsoleScreen.KIOSKS
    assert [(k.device, k.online) for k in flow.state.kiosks] == [("ab12cd34ef567890", True),
                                                                 ("ff0011aa22bb33cc", False)]
    assert [skew_shown(k) for k in flow.state.kiosks] == [False, True]
    flow.back()
    assert flow.state.screen is ConsoleScreen.QUEUE


def test_double_check_ins_reported_by_kiosks_stay_on_every_screen_until_they_report_zero(
        book: FakeCaseBook, staff: StaffBook, clock: Clock) -> None:
    book.seen(KioskSeen("ab12cd34ef567890", "1001", True, "2026-11-25T08:00:00+00:00", 41, 0, 0, duplicates=1))
    flow = ConsoleFlow(book, staff, clock)
    assert [k.device for k in flow.state.duplicates] == ["ab12cd34ef567890"]  # known at start-up, before sign-in
    book.seen(KioskSeen("c0ffee0012345678", "1001", True, "2026-11-25T08:00:00+00:00", 37, 0, 0))
    book.report_duplicates("c0ffee0012345678", 1)  # the other kiosk of the pair hears of it too
    clock.now += 100
    flow.book_changed()
    assert [(k.device, k.duplicates) for k in flow.state.duplicates] == [("ab12cd34ef567890", 1),
                                                                         ("c0ffee0012345678", 1)]
    assert flow.state.screen is ConsoleScreen.SIGN_IN and flow.state.last_activity == 50_000.0  # not a touch
    signed_in(flow).show_kiosks()
    flow.back()
    flow.seen()  # touching the cases alert does not clear it: only the kiosks can
    assert len(flow.state.duplicates) == 2 and flow.state.alert == 0
    book.report_duplicates("ab12cd34ef567890", 0)  # staff acknowledged it on one kiosk
    flow.book_changed()
    assert [k.device for k in flow.state.duplicates] == ["c0ffee0012345678"]
    book.report_duplicates("c0ffee0012345678", 0)
    flow.book_changed()
    assert flow.state.duplicates == () and [k.duplicates for k in flow.state.kiosks] == [0, 0]
    assert reporting_duplicates((KioskSeen("ff0011aa22bb33cc", "1002", False, "", 0, 0, 0, 2),))[0].duplicates == 2


def test_kiosks_reporting_irregular_records_are_named_on_every_screen_apart_from_double_check_ins(
        book: FakeCaseBook, staff: StaffBook, clock: Clock) -> None:
    book.seen(KioskSeen("ab12cd34ef567890", "1001", True, "2026-11-25T08:00:00+00:00", 41, 0, 0, anomalies=2))
    book.seen(KioskSeen("c0ffee0012345678", "1001", True, "2026-11-25T08:00:00+00:00", 37, 0, 0, duplicates=1))
    flow = ConsoleFlow(book, staff, clock)
    assert [(k.device, k.anomalies) for k in flow.state.anomalies] == [("ab12cd34ef567890", 2)]  # before sign-in
    assert [k.device for k in flow.state.duplicates] == ["c0ffee0012345678"]   # two different things
    book.report_anomalies("c0ffee0012345678", 1)   # the rogue's page reached the second kiosk too
    clock.now += 100
    flow.book_changed()
    assert [k.device for k in flow.state.anomalies] == ["ab12cd34ef567890", "c0ffee0012345678"]
    assert flow.state.last_activity == 50_000.0    # a kiosk's report is not the representative's touch
    signed_in(flow).show_kiosks()
    assert flow.state.screen is ConsoleScreen.KIOSKS and len(flow.state.anomalies) == 2
    flow.back()
    assert len(flow.state.anomalies) == 2          # looking does not clear evidence
    assert reporting_anomalies((KioskSeen("ff0011aa22bb33cc", "1002", False, "", 0, 0, 0),)) == ()


def test_every_state_reaches_the_listeners(flow: ConsoleFlow, book: FakeCaseBook) -> None:
    seen: list[ConsoleState] = []
    flow.subscribe(seen.append)
    signed_in(flow).open_case("E-AB12CD-0001")
    flow.lock()
    assert [s.screen for s in seen] == [ConsoleScreen.QUEUE, ConsoleScreen.CASE, ConsoleScreen.SIGN_IN]


def test_the_console_flow_is_part_of_the_pure_core() -> None:
    core, modules = imported_by_core("kiosk.core.console_flow")
    assert "kiosk.core.console_flow" in core and forbidden_in(modules) == []


# -- a locked kiosk asks for the day's unlock (issue 14) -------------------------------------------------------------

ASKING = KioskSeen("ab12cd34ef567890", "1001", True, "2026-05-22T08:00:00+00:00", 0, 0, 0, asks_unlock=True)


def test_the_signed_in_representative_unlocks_a_kiosk_that_asks(book: FakeCaseBook, flow: ConsoleFlow) -> None:
    book.seen(ASKING)
    flow.book_changed()
    assert [k.device for k in flow.state.asking] == [ASKING.device]
    flow.unlock_kiosk(ASKING.device)   # signed out: nothing is sent
    assert book.unlocks == []
    signed_in(flow).show_kiosks()
    flow.unlock_kiosk(ASKING.device)
    assert book.unlocks == [(ASKING.device, "rep", True)]
    assert flow.state.notice is ConsoleNotice.UNLOCK_SENT and flow.state.asking == ()
    flow.unlock_kiosk(ASKING.device)   # answered already: a second touch sends nothing more
    assert flow.state.notice is ConsoleNotice.UNLOCK_NOT_ASKING and len(book.unlocks) == 1


def test_the_representative_refuses_and_a_console_that_cannot_says_so(book: FakeCaseBook, flow: ConsoleFlow) -> None:
    book.seen(ASKING)
    signed_in(flow).show_kiosks()
    flow.refuse_unlock(ASKING.device)
    assert book.unlocks == [(ASKING.device, "rep", False)] and flow.state.notice is ConsoleNotice.UNLOCK_REFUSED
    book.seen(ASKING)
    book.can_unlock = False
    flow.unlock_kiosk(ASKING.device)
    assert flow.state.notice is ConsoleNotice.UNLOCK_CANNOT and len(book.unlocks) == 1
