"""The check-in flow without a screen: sign-in, every verdict, confirm, done, lock, hardware trouble."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PEOPLE, World, data_keys
from kiosk.state import Installed
from kiosk.core.cases import CaseForm, CaseReason, CaseStatus, FormProblem
from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import JalaliDate
from kiosk.core.flow import CheckInFlow, FlowState, Notice, Screen
from kiosk.core.staff import Role
from kiosk.desk import CaseDesk, Desk
from kiosk.store.staff import StaffBook


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class BrokenDisk(Desk):
    """The real desk whose ledger write fails as a full disk would."""

    def check_in(self, raw: str, ref: str = "", account: str = "") -> object:  # type: ignore[override]
        raise OSError(28, "No space left on device")


@pytest.fixture
def setup(world: World, tmp_path: Path) -> tuple[CheckInFlow, Clock, list[FlowState]]:
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    desk = Desk(registry, ledger, installed.config.rules)
    staff = StaffBook(tmp_path / "staff.json", data_keys(), clock := Clock())
    staff.set_pin("head", "رئیس", Role.HEAD, "135790")
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    cases = CaseDesk(installed.open_outbox(ledger), installed.config.rules, ledger, registry)
    flow = CheckInFlow(desk, staff, clock, cases=cases, idle_lock_seconds=300, done_seconds=4)
    seen: list[FlowState] = []
    flow.subscribe(seen.append)
    return flow, clock, seen


def test_a_voter_from_sign_in_to_done_and_back_to_ready(setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, clock, seen = setup
    assert flow.state.screen is Screen.SIGN_IN
    flow.code_entered(PEOPLE["eligible"].code)  # nothing happens while locked
    assert flow.state.screen is Screen.SIGN_IN
    flow.sign_in("w1", "246802")
    assert (flow.state.screen, flow.state.role) == (Screen.READY, Role.WORKER)
    flow.code_entered(PEOPLE["eligible"].code)
    assert flow.state.screen is Screen.VERDICT and flow.state.outcome is not None
    assert flow.state.outcome.verdict is Verdict.ELIGIBLE
    assert flow.state.outcome.record is not None and flow.state.outcome.record.first_name == PEOPLE["eligible"].first
    flow.confirm()
    assert flow.state.screen is Screen.DONE and flow.state.receipt is not None and flow.state.checkins == 1
    assert flow.done_left() == 4          # the countdown Done shows
    clock.now += 3
    flow.tick()
    assert flow.state.screen is Screen.DONE and flow.done_left() == 1
    clock.now += 1
    flow.tick()
    assert flow.state.screen is Screen.READY
    flow.code_entered(PEOPLE["eligible"].code)
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.ALREADY_VOTED
    flow.confirm()  # confirming an already_voted person records nothing
    assert flow.state.screen is Screen.VERDICT and flow.state.checkins == 1
    assert [s.screen for s in seen][:3] == [Screen.READY, Screen.VERDICT, Screen.DONE]


@pytest.mark.parametrize("who, verdict", [
    ("underage", Verdict.UNDERAGE), ("deceased", Verdict.DECEASED), ("suspended", Verdict.SUSPENDED),
])
def test_other_verdicts_are_shown_and_cannot_be_confirmed(setup: tuple[CheckInFlow, Clock, list[FlowState]],
                                                          who: str, verdict: Verdict) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.code_entered(PEOPLE[who].code)
    assert flow.state.outcome is not None and flow.state.outcome.verdict is verdict
    flow.confirm()
    assert flow.state.screen is Screen.VERDICT and flow.state.checkins == 0
    flow.cancel()
    assert flow.state.screen is Screen.READY


def test_invalid_not_found_and_untrusted_card(setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.code_entered("12345")
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.INVALID_CODE
    flow.cancel()
    flow.code_entered("0000000019")
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.NOT_FOUND
    flow.escalate()
    assert flow.state.screen is Screen.ESCALATION
    flow.cancel()
    flow.card_read(PEOPLE["eligible"].code, certificate_trusted=False)
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.CARD_NOT_TRUSTED
    flow.confirm()
    assert flow.state.screen is Screen.VERDICT and flow.state.checkins == 0


def test_wrong_pins_lock_out_and_idle_time_locks_the_kiosk(setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, clock, _ = setup
    flow.sign_in("w1", "0000")
    assert (flow.state.notice, flow.state.notice_detail) == (Notice.WRONG_PIN, 2.0)
    flow.sign_in("w1", "0000")
    flow.sign_in("w1", "0000")
    assert (flow.state.notice, flow.state.notice_detail) == (Notice.LOCKED_OUT, 30.0)
    flow.sign_in("w1", "246802")
    assert flow.state.screen is Screen.SIGN_IN and flow.state.notice is Notice.LOCKED_OUT
    flow.sign_in("nobody", "246802")
    assert flow.state.notice is Notice.UNKNOWN_ACCOUNT
    flow.sign_in("head", "135790")
    assert flow.state.screen is Screen.READY and flow.require_head()
    clock.now += 299
    flow.tick()
    assert flow.state.screen is Screen.READY
    clock.now += 1
    flow.tick()
    assert flow.state.screen is Screen.SIGN_IN and flow.state.role is None


def test_hardware_trouble_is_a_notice_and_a_full_disk_records_nothing(world: World, tmp_path: Path) -> None:
    installed = world.installed()
    desk = BrokenDisk(installed.open_registry(), installed.open_ledger(), installed.config.rules)
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    flow = CheckInFlow(desk, staff, Clock())
    flow.sign_in("w1", "246802")
    assert not flow.require_head() and flow.state.notice is Notice.HEAD_ONLY
    flow.card_read(PEOPLE["eligible"].code, certificate_trusted=True)
    flow.card_removed()
    assert (flow.state.screen, flow.state.notice) == (Screen.VERDICT, Notice.CARD_REMOVED)
    flow.confirm()
    assert (flow.state.screen, flow.state.notice, flow.state.checkins) == (Screen.VERDICT, Notice.NOT_RECORDED, 0)
    flow.reader_unplugged()
    assert flow.state.notice is Notice.READER_UNPLUGGED
    flow.lock()
    assert flow.state.screen is Screen.SIGN_IN and flow.state.outcome is None


def test_a_case_for_the_representative_is_checked_kept_and_listed(
        setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.code_entered("0000000019")
    flow.escalate()
    assert flow.state.screen is Screen.ESCALATION and flow.state.case_reason is CaseReason.NOT_FOUND
    flow.submit_case("", "رضایی", "حسن", JalaliDate(1406, 1, 1), "۱۲۳", "")
    assert flow.state.notice is Notice.FORM_INCOMPLETE
    assert set(flow.state.form_problems) == {FormProblem.FIRST_NAME, FormProblem.BIRTH_DATE}
    flow.submit_case("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "۱۲۳", "بدون کارت")
    assert flow.state.screen is Screen.CASES and flow.state.last_case is not None
    assert [c.case_id for c in flow.state.cases] == [flow.state.last_case]
    case = flow.state.cases[0]
    assert (case.form.first_name, case.form.reason, case.status) == ("مریم", CaseReason.NOT_FOUND, CaseStatus.WAITING)
    flow.cancel()
    flow.escalate()  # from Ready: a person with no national code at all
    assert flow.state.case_reason is CaseReason.NO_CODE
    flow.submit_case("علی", "کریمی", "رضا", JalaliDate(1360, 1, 1), "", "")
    flow.cancel()
    flow.show_cases()
    assert [c.form.reason for c in flow.state.cases] == [CaseReason.NOT_FOUND, CaseReason.NO_CODE]


def test_cases_survive_a_restart_and_are_numbered_per_kiosk(world: World) -> None:
    installed = world.installed()
    form = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "", "", CaseReason.NO_CODE)
    ledger = installed.open_ledger()
    first = installed.open_outbox(ledger).raise_case(form)
    ledger.close()
    ledger = installed.open_ledger()
    reopened = installed.open_outbox(ledger)
    second = reopened.raise_case(form)
    assert [c.case_id for c in reopened.cases()] == [first.case_id, second.case_id]
    assert first.case_id.endswith("-0001") and second.case_id.endswith("-0002")
    ledger.close()


def test_the_head_adds_a_poll_worker_who_can_then_sign_in(setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.show_staff()  # a poll worker cannot manage staff
    assert flow.state.screen is Screen.READY and flow.state.notice is Notice.HEAD_ONLY
    flow.lock()
    flow.sign_in("head", "135790")
    flow.show_staff()
    assert flow.state.screen is Screen.STAFF
    flow.add_worker("زهرا کاظمی", "12")
    assert flow.state.notice is Notice.PIN_REFUSED
    flow.add_worker("زهرا کاظمی", "۹۸۷۶")   # four digits: an offline guess from a copied staff.json
    assert flow.state.notice is Notice.PIN_REFUSED
    flow.add_worker("زهرا کاظمی", "۹۸۷۶۵۴")
    assert flow.state.notice is Notice.WORKER_ADDED
    added = [a for a in flow.state.accounts if a[1] == "زهرا کاظمی"]
    assert len(added) == 1 and added[0][2] is Role.WORKER
    flow.cancel()
    flow.lock()
    flow.sign_in(added[0][0], "987654")
    assert (flow.state.screen, flow.state.role) == (Screen.READY, Role.WORKER)


def test_a_decision_arriving_tells_staff_and_an_approval_checks_the_person_in_once(world: World, tmp_path: Path) -> None:
    from kiosk.core.cases import Decision, Ruling
    from kiosk.desk import approved_voter
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    cases = CaseDesk(installed.open_outbox(ledger), installed.config.rules, ledger, registry)
    staff = StaffBook(tmp_path / "staff.json", data_keys(), clock := Clock())
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    flow = CheckInFlow(Desk(registry, ledger, installed.config.rules), staff, clock, cases=cases)
    flow.sign_in("w1", "246802")
    flow.escalate()
    flow.submit_case("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "", "")
    approved, withdrawn = flow.state.last_case, None
    flow.cancel()
    flow.escalate()
    flow.submit_case("علی", "کریمی", "رضا", JalaliDate(1360, 1, 1), "", "")
    withdrawn = flow.state.last_case
    assert approved and withdrawn
    flow.withdraw_case(withdrawn)
    assert flow.state.notice is Notice.CASE_WITHDRAWN
    assert [c.status for c in flow.state.cases] == [CaseStatus.WAITING, CaseStatus.CANCELLED]
    flow.cancel()
    flow.code_entered(PEOPLE["underage"].code)  # staff are serving someone else when the decision comes
    decision = Decision(approved, installed.claims.device_id, Ruling.APPROVE, "", "1405/88", "",
                        "2026-05-22T09:00:00+00:00", "fedcba9876543210")
    installed.open_outbox(ledger).record_decision(decision, bytes(64), approved_voter(registry.voter_key, decision))
    flow.cases_changed()
    assert (flow.state.screen, flow.state.notice, flow.state.decided_unseen) == \
        (Screen.VERDICT, Notice.DECISION_ARRIVED, 1)
    flow.cancel()
    flow.show_cases()
    assert flow.state.decided_unseen == 0
    flow.check_in_case(withdrawn)
    assert flow.state.screen is Screen.CASES and flow.state.notice is Notice.APPROVAL_USED
    flow.check_in_case(approved)  # first the registry's verdict: a reference the registry cannot know
    assert flow.state.screen is Screen.APPROVAL and flow.state.approval is not None
    assert flow.state.approval.outcome.verdict is Verdict.NOT_FOUND and not flow.state.approval.needs_head
    flow.confirm_approval()
    assert flow.state.screen is Screen.DONE and flow.state.receipt is not None and flow.state.checkins == 1
    flow.cancel()
    flow.show_cases()
    flow.check_in_case(approved)
    assert flow.state.notice is Notice.APPROVAL_USED and flow.state.checkins == 1
    assert [c.check_in != "" for c in flow.state.cases] == [True, False]


def test_every_entry_names_the_signed_in_account(setup: tuple[CheckInFlow, Clock, list[FlowState]],
                                                 world: World) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.code_entered(PEOPLE["eligible"].code)
    flow.confirm()
    assert flow.state.screen is Screen.DONE
    ledger = Installed.open(world.states[0]).open_ledger(read_only=True)
    [entry] = list(ledger.events(ledger.device_id))
    assert entry.account == "w1"   # the account id, never the name
    ledger.close()


def test_the_heads_card_sign_in_lets_the_head_in_or_says_why_not(setup: tuple[CheckInFlow, Clock, list[FlowState]]
                                                                 ) -> None:
    from kiosk.core.flow import Notice
    from kiosk.core.staff import CardOutcome, CardSignIn
    flow, _, _ = setup
    flow.card_signed_in(CardSignIn(CardOutcome.PIN_WRONG, tries_left=2))
    assert (flow.state.screen, flow.state.notice, flow.state.notice_detail) == (Screen.SIGN_IN, Notice.CARD_PIN_WRONG,
                                                                                2.0)
    for outcome, notice in ((CardOutcome.BLOCKED, Notice.CARD_BLOCKED), (CardOutcome.REFUSED, Notice.CARD_REFUSED),
                            (CardOutcome.NO_CARD, Notice.CARD_NONE), (CardOutcome.UNREADABLE, Notice.CARD_UNREADABLE),
                            (CardOutcome.PIN_SHORT, Notice.CARD_PIN_SHORT)):
        flow.card_signed_in(CardSignIn(outcome))
        assert (flow.state.screen, flow.state.notice) == (Screen.SIGN_IN, notice)
    flow.card_signed_in(CardSignIn(CardOutcome.GRANTED, "head-1001"))
    assert (flow.state.screen, flow.state.account, flow.state.role) == (Screen.READY, "head-1001", Role.HEAD)
    flow.card_signed_in(CardSignIn(CardOutcome.GRANTED, "someone-else"))   # a late answer changes nothing
    assert flow.state.account == "head-1001"


def test_a_typed_slip_stays_in_the_box_but_a_scanned_code_goes_to_the_verdict(
        setup: tuple[CheckInFlow, Clock, list[FlowState]]) -> None:
    flow, _, _ = setup
    flow.sign_in("w1", "246802")
    flow.code_entered("12345")
    assert (flow.state.screen, flow.state.correcting) == (Screen.READY, "12345")
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.INVALID_CODE
    flow.correction_dropped()                       # staff cleared the box
    assert (flow.state.outcome, flow.state.correcting) == (None, "")
    flow.code_entered("0000000019")
    assert (flow.state.screen, flow.state.correcting) == (Screen.READY, "0000000019")
    flow.escalate()                                 # the code is right but not in the registry
    assert flow.state.screen is Screen.ESCALATION and flow.state.case_reason is CaseReason.NOT_FOUND
    assert flow.state.correcting == ""
    flow.cancel()
    flow.code_entered("12345", typed=False)         # a scanner's garbage: no box to correct it in
    assert flow.state.screen is Screen.VERDICT and flow.state.correcting == ""
    flow.cancel()
    flow.code_entered("0000000019")
    flow.card_read(PEOPLE["eligible"].code, certificate_trusted=True)   # the next person's card
    assert flow.state.screen is Screen.VERDICT and flow.state.correcting == ""
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.ELIGIBLE
    flow.cancel()
    flow.code_entered("12345")
    flow.lock()
    assert flow.state.correcting == "" and flow.state.outcome is None
