"""An approval and the registry: staff see the approved person's verdict, and only the branch head overrides it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PEOPLE, World, code, data_keys
from kiosk.core.cases import CaseForm, CaseReason, Decision, NotApproved, Ruling
from kiosk.core.outcome import Recorded
from kiosk.core.eligibility import Verdict
from kiosk.core.flow import CheckInFlow, Notice, Screen
from kiosk.core.jalali import JalaliDate
from kiosk.core.staff import Role
from kiosk.desk import CaseDesk, Desk, approved_voter
from kiosk.state import Installed
from kiosk.store.ledger import Event, Kind, Ledger
from kiosk.store.registry import Registry
from kiosk.store.staff import StaffBook

REP = "fedcba9876543210"
FORM = CaseForm("حسین", "جعفری", "علی", JalaliDate(1330, 11, 3), "", "بدون کارت", CaseReason.NO_CODE)


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Kiosk:
    installed: Installed
    ledger: Ledger
    registry: Registry
    desk: Desk
    cases: CaseDesk
    flow: CheckInFlow

    def approved(self, national_code: str = "", reference: str = "") -> str:
        """A case raised on this kiosk and approved by the representative with this code or reference."""
        case = self.cases.raise_case(FORM)
        assert not isinstance(case, list)
        decision = Decision(case.case_id, self.installed.claims.device_id, Ruling.APPROVE, national_code, reference,
                            "", "2026-05-22T09:00:00+00:00", REP)
        self.installed.open_outbox(self.ledger).record_decision(
            decision, bytes(64), approved_voter(self.registry.voter_key, decision))
        self.flow.cases_changed()
        return case.case_id

    def check_ins(self, case_id: str) -> list[Event]:
        """This kiosk's check-in events recorded for a case."""
        return [e for e in self.ledger.events(self.installed.claims.device_id)
                if e.kind is Kind.CHECK_IN and e.ref == case_id]


@pytest.fixture
def kiosk(world: World, tmp_path: Path) -> Iterator[Kiosk]:
    installed = world.installed()
    ledger, registry = installed.open_ledger(), installed.open_registry()
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("head", "رئیس", Role.HEAD, "135790")
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    desk = Desk(registry, ledger, installed.config.rules)
    cases = CaseDesk(installed.open_outbox(ledger), installed.config.rules, ledger, registry)
    flow = CheckInFlow(desk, staff, Clock(), cases=cases)
    yield Kiosk(installed, ledger, registry, desk, cases, flow)
    ledger.close()
    registry.close()


def open_approval(kiosk: Kiosk, case_id: str) -> None:
    kiosk.flow.cancel()
    kiosk.flow.show_cases()
    kiosk.flow.check_in_case(case_id)


@pytest.mark.parametrize("who, verdict", [
    ("deceased", Verdict.DECEASED), ("suspended", Verdict.SUSPENDED), ("underage", Verdict.UNDERAGE),
])
def test_an_approval_against_the_registry_is_shown_and_recorded_only_on_the_heads_word(
        kiosk: Kiosk, who: str, verdict: Verdict) -> None:
    flow = kiosk.flow
    flow.sign_in("w1", "246802")
    case_id = kiosk.approved(PEOPLE[who].code)
    open_approval(kiosk, case_id)
    # Nothing is recorded yet: staff see the registry's verdict on the approved code, with the record's name.
    assert kiosk.check_ins(case_id) == [] and flow.state.checkins == 0
    assert flow.state.screen is Screen.APPROVAL and flow.state.approval is not None
    shown = flow.state.approval.outcome
    assert shown.verdict is verdict and shown.record is not None and shown.record.first_name == PEOPLE[who].first
    assert flow.state.approval.needs_head and flow.state.notice is Notice.HEAD_CONFIRMATION

    flow.confirm_approval()                                     # the worker just presses "record"
    assert flow.state.notice is Notice.APPROVAL_REASON
    flow.confirm_approval("ثبت احوال اطلاعات را اصلاح کرده است")  # a reason, but no head
    assert flow.state.notice is Notice.HEAD_CONFIRMATION
    flow.confirm_approval("ثبت احوال اطلاعات را اصلاح کرده است", pin="246802")  # the worker's own PIN
    assert flow.state.notice is Notice.WRONG_PIN
    assert kiosk.check_ins(case_id) == [] and flow.state.screen is Screen.APPROVAL
    assert kiosk.desk.check(PEOPLE[who].code).verdict is verdict

    flow.confirm_approval("ثبت احوال اطلاعات را اصلاح کرده است", pin="۱۳۵۷۹۰")  # the head's PIN, on this kiosk
    assert flow.state.screen is Screen.DONE and flow.state.checkins == 1
    [event] = kiosk.check_ins(case_id)
    assert "ثبت احوال اطلاعات را اصلاح کرده است" in event.reason and "branch head head" in event.reason
    assert verdict.value in event.reason
    assert flow.state.role is Role.WORKER  # the head's PIN confirmed one approval; it signed nobody in


def test_the_desk_itself_refuses_an_override_without_the_head(kiosk: Kiosk) -> None:
    from kiosk.core.approval import ApprovalCheck, HeadConfirmation
    case_id = kiosk.approved(PEOPLE["deceased"].code)
    check = kiosk.cases.check_in_approved(case_id)
    assert isinstance(check, ApprovalCheck) and check.outcome.verdict is Verdict.DECEASED
    assert kiosk.check_ins(case_id) == []
    # A confirmation of something else than what stands now does not hold either.
    stale = HeadConfirmation("head", "checked", ApprovalCheck(case_id, check.outcome, check.form, False, "kiosk:1"))
    assert isinstance(kiosk.cases.check_in_approved(case_id, stale), ApprovalCheck)
    assert isinstance(kiosk.cases.check_in_approved(case_id, HeadConfirmation("head", "  ", check)), ApprovalCheck)
    assert kiosk.check_ins(case_id) == []


def test_the_head_signed_in_confirms_with_a_reason_and_no_pin(kiosk: Kiosk) -> None:
    flow = kiosk.flow
    flow.sign_in("head", "135790")
    case_id = kiosk.approved(PEOPLE["suspended"].code)
    open_approval(kiosk, case_id)
    assert flow.state.approval is not None and flow.state.approval.needs_head and flow.state.notice is None
    flow.confirm_approval()
    assert flow.state.notice is Notice.APPROVAL_REASON and kiosk.check_ins(case_id) == []
    flow.confirm_approval("به دستور نماینده فرماندار")
    assert flow.state.screen is Screen.DONE
    [event] = kiosk.check_ins(case_id)
    assert event.reason.endswith("confirmed by branch head head: به دستور نماینده فرماندار")


def test_an_approval_of_someone_already_checked_in_needs_the_head_and_then_shows_as_a_double(kiosk: Kiosk) -> None:
    flow = kiosk.flow
    flow.sign_in("w1", "246802")
    person = PEOPLE["eligible"].code
    flow.code_entered(person)
    flow.confirm()
    case_id = kiosk.approved(person)
    open_approval(kiosk, case_id)
    assert flow.state.approval is not None and flow.state.approval.outcome.verdict is Verdict.ALREADY_VOTED
    assert flow.state.approval.outcome.previous is not None and flow.state.approval.needs_head
    flow.confirm_approval("هویت با شناسنامه بررسی شد", pin="246802")
    assert flow.state.screen is Screen.APPROVAL and kiosk.check_ins(case_id) == []
    flow.confirm_approval("هویت با شناسنامه بررسی شد", pin="135790")
    assert flow.state.screen is Screen.DONE
    voter = kiosk.registry.voter_key(person)
    assert len(kiosk.ledger.live_check_ins(voter)) == 2  # both stand: the branch sees a double check-in
    [event] = kiosk.check_ins(case_id)
    assert "already_voted" in event.reason and "هویت با شناسنامه بررسی شد" in event.reason


def test_an_eligible_or_unknown_approved_person_is_recorded_by_any_staff_after_the_verdict_is_shown(
        kiosk: Kiosk) -> None:
    flow = kiosk.flow
    flow.sign_in("w1", "246802")
    for national_code, verdict in ((PEOPLE["eligible"].code, Verdict.ELIGIBLE), (code(77), Verdict.NOT_FOUND)):
        case_id = kiosk.approved(national_code)
        open_approval(kiosk, case_id)
        assert flow.state.approval is not None and flow.state.approval.outcome.verdict is verdict
        assert not flow.state.approval.needs_head and flow.state.notice is None
        assert kiosk.check_ins(case_id) == []
        flow.confirm_approval()
        assert flow.state.screen is Screen.DONE
        [event] = kiosk.check_ins(case_id)
        assert event.reason == ""


def test_back_from_the_approval_records_nothing_and_a_lock_forgets_it(kiosk: Kiosk) -> None:
    flow = kiosk.flow
    flow.sign_in("w1", "246802")
    case_id = kiosk.approved(PEOPLE["deceased"].code)
    open_approval(kiosk, case_id)
    flow.cancel()
    assert flow.state.screen is Screen.CASES and flow.state.approval is None
    flow.check_in_case(case_id)
    flow.lock()
    assert flow.state.screen is Screen.SIGN_IN and flow.state.approval is None
    assert kiosk.check_ins(case_id) == []


def test_an_undo_authorization_the_ledger_cannot_verify_undoes_nothing_and_then_needs_the_head(
        kiosk: Kiosk, world: World) -> None:
    """A signature by a key that is no console of the branch in the roster: the ledger keeps the earlier check-in."""
    from kiosk.core.cases import UndoAuthorization
    from kiosk.state import load_signing_key
    from kiosk.store.replica import Replica
    from kiosk.trust.certs import cert_pem
    from kiosk.trust.decisions import sign_undo
    other = world.installed("kiosk2")
    other_ledger = other.open_ledger()
    voter = kiosk.registry.voter_key(PEOPLE["eligible"].code)
    other_ledger.check_in(voter)
    Replica(kiosk.ledger, other.authority_cert, cert_pem(kiosk.installed.device_cert), ("1001",)).store(
        other.claims.device_id, cert_pem(other.device_cert), list(other_ledger.events(other.claims.device_id)))
    target = f"{other.claims.device_id}:1"
    case = kiosk.cases.raise_case(CaseForm("علی", "رضایی", "حسن", JalaliDate(1360, 5, 12), "", "",
                                           CaseReason.DISPUTED, target))
    assert not isinstance(case, list)
    me = kiosk.installed.claims.device_id
    decision = Decision(case.case_id, me, Ruling.APPROVE, PEOPLE["eligible"].code, "", "",
                        "2026-05-22T09:00:00+00:00", REP)
    rogue = sign_undo(kiosk.installed.config.id, case.case_id, me, REP, target, load_signing_key(other.state))
    kiosk.installed.open_outbox(kiosk.ledger).record_decision(decision, bytes(64), voter,
                                                             UndoAuthorization(target, rogue))
    flow = kiosk.flow
    flow.sign_in("w1", "246802")
    open_approval(kiosk, case.case_id)
    assert flow.state.approval is not None and flow.state.approval.supersedes == target
    flow.confirm_approval()
    # Nothing was written; the screen now says what stands: the earlier check-in, and the head is needed.
    assert flow.state.screen is Screen.APPROVAL and flow.state.notice is Notice.APPROVAL_CHANGED
    assert flow.state.approval.supersedes == "" and flow.state.approval.needs_head
    mine = list(kiosk.ledger.events(me))
    assert not any(e.kind in (Kind.UNDO, Kind.CHECK_IN) for e in mine)
    assert [(c.device, c.seq) for c in kiosk.ledger.live_check_ins(voter)] == [(other.claims.device_id, 1)]
    other_ledger.close()


def test_an_approved_check_in_and_its_used_mark_commit_together(kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure between the two (a power cut, a full disk) must not leave a check-in whose approval is usable again."""
    case_id = kiosk.approved(PEOPLE["eligible"].code)
    outbox = kiosk.cases._outbox

    def disk_full(case: str, check_in: str) -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(outbox, "mark_checked_in", disk_full)
    with pytest.raises(OSError):
        kiosk.cases.check_in_approved(case_id)
    assert kiosk.check_ins(case_id) == []                      # no check-in without its mark
    monkeypatch.undo()
    assert isinstance(kiosk.cases.check_in_approved(case_id), Recorded)
    assert kiosk.cases.check_in_approved(case_id) == NotApproved("the approval was already used")
