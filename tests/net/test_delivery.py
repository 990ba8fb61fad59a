"""Cases from a kiosk to the representative's console and decisions back, over real mutual TLS on loopback.

Discovery is left out here (the courier is handed the console's endpoint as
zeroconf would hand it); tests/net/test_end_to_end.py runs the whole path.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from helpers import PEOPLE, World, code
from kiosk.core.cases import CaseForm, CaseReason, CaseStatus, Decision, DecisionProblem, NotApproved, Ruling
from kiosk.core.console import RepCaseStatus
from kiosk.core.eligibility import Verdict
from kiosk.core.flow import CheckInFlow, Screen
from kiosk.core.jalali import JalaliDate
from kiosk.core.outcome import Recorded
from kiosk.core.staff import Role as StaffRole
from kiosk.core.undo import UndoRuling
from kiosk.desk import CaseDesk, Desk
from kiosk.net import messages as m
from kiosk.net.channel import PeerPolicy, TlsIdentity, connect
from kiosk.net.courier import Courier, LinkStatus
from kiosk.net.discovery import Endpoint
from kiosk.rep.service import RepService
from kiosk.state import Installed, load_signing_key
from kiosk.store.ledger import Event as LedgerEvent, Kind, Ledger, verify_chain
from kiosk.store.replica import PageRefused, Replica
from kiosk.store.staff import StaffBook
from kiosk.trust.certs import Role, cert_pem
from kiosk.trust.decisions import sign_decision, sign_undo, undo_authorized

FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "۴۵۶", "بدون کارت", CaseReason.NO_CODE)
# What the outbox sends for FORM: the birth-certificate number in ASCII digits.
WIRE_FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "بدون کارت", CaseReason.NO_CODE)


def wait_for(condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Poll until `condition()` is true, or fail."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def endpoint(service: RepService) -> Endpoint:
    """What zeroconf would report for a console."""
    return Endpoint.at(service.identity.claims.device_id, "127.0.0.1", service.port)


@dataclass
class Branch:
    """One kiosk with its desk, one console, and a courier between them."""

    kiosk: Installed
    console: Installed
    desk: Desk
    cases: CaseDesk
    service: RepService | None = None
    courier: Courier | None = None

    def start_console(self, **kw: object) -> RepService:
        self.service = RepService(self.console, host="127.0.0.1", **kw)  # type: ignore[arg-type]
        self.service.start()
        return self.service

    def start_courier(self, **kw: object) -> Courier:
        self.courier = Courier(self.kiosk, **kw)  # type: ignore[arg-type]
        if self.service is not None:
            self.courier.endpoints_changed({self.console.claims.device_id: endpoint(self.service)})
        return self.courier

    def raise_case(self, form: CaseForm = FORM) -> str:
        case = self.cases.raise_case(form)
        assert not isinstance(case, list)
        if self.courier is not None:
            self.courier.poke()
        return case.case_id

    def delivered_then_kiosk_away(self) -> tuple[RepService, str]:
        """A case raised and delivered, then the kiosk's courier stopped (the kiosk is off or unplugged)."""
        service = self.start_console()
        courier = self.start_courier()
        case_id = self.raise_case()
        wait_for(lambda: self.kiosk_status(case_id) is CaseStatus.DELIVERED)
        courier.close()
        self.courier = None
        return service, case_id

    def kiosk_status(self, case_id: str) -> CaseStatus:
        case = self.cases._outbox.case(case_id)
        assert case is not None
        return case.status

    def stop(self) -> None:
        if self.courier is not None:
            self.courier.close()
            self.courier = None
        if self.service is not None:
            self.service.close()
            self.service = None


@pytest.fixture
def branch(world: World) -> Iterator[Branch]:
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    ledger, registry = kiosk.open_ledger(), kiosk.open_registry()
    b = Branch(kiosk, console, Desk(registry, ledger, kiosk.config.rules),
               CaseDesk(kiosk.open_outbox(ledger), kiosk.config.rules, ledger, registry))
    yield b
    b.stop()
    ledger.close()
    registry.close()


def test_a_case_is_delivered_decided_and_the_approved_person_checked_in_once(branch: Branch) -> None:
    service = branch.start_console()
    branch.start_courier()
    case_id = branch.raise_case()
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DELIVERED)
    [received] = service.open_cases()
    assert (received.case_id, received.kiosk, received.branch) == (case_id, branch.kiosk.claims.device_id, "1001")
    assert received.form.first_name == "مریم" and received.form.birth_certificate == "456"
    person = code(77)  # not in the registry: that is why the case was raised
    persian = person.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    decided = service.decide(case_id, Ruling.APPROVE, persian, "", "")
    assert not isinstance(decided, list) and decided.decision is not None
    assert decided.decision.national_code == person  # normalised before it is signed
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    wait_for(lambda: (service.case(case_id) or received).delivered)
    assert branch.desk.check(person).verdict is Verdict.NOT_FOUND
    first = branch.cases.check_in_approved(case_id)
    assert isinstance(first, Recorded)
    assert branch.desk.check(person).verdict is Verdict.ALREADY_VOTED
    assert isinstance(branch.cases.check_in_approved(case_id), NotApproved)
    ledger = branch.kiosk.open_ledger()
    counts = verify_chain(ledger.events(branch.kiosk.claims.device_id), branch.kiosk.config.id,
                          branch.kiosk.claims.device_id, branch.kiosk.device_public_key())
    ledger.close()
    assert (counts.decisions, counts.check_ins) == (1, 1)


def test_a_rejection_needs_a_reason_and_arrives_with_it(branch: Branch) -> None:
    service = branch.start_console()
    branch.start_courier()
    case_id = branch.raise_case()
    wait_for(lambda: service.open_cases())
    assert isinstance(service.decide(case_id, Ruling.REJECT, "", "", "  "), list)
    service.decide(case_id, Ruling.REJECT, "", "", "not the person on the birth certificate")
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    case = branch.cases._outbox.case(case_id)
    assert case is not None and case.decision is not None and case.decision.ruling is Ruling.REJECT
    assert case.decision.reason == "not the person on the birth certificate"
    assert isinstance(branch.cases.check_in_approved(case_id), NotApproved)


def test_a_case_raised_while_no_console_is_reachable_goes_when_one_appears(branch: Branch) -> None:
    branch.start_courier()
    case_id = branch.raise_case()
    time.sleep(0.3)
    assert branch.kiosk_status(case_id) is CaseStatus.WAITING
    service = branch.start_console()
    assert branch.courier is not None
    branch.courier.endpoints_changed({branch.console.claims.device_id: endpoint(service)})
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DELIVERED)


def test_a_console_restart_loses_nothing_and_the_decision_still_arrives(branch: Branch) -> None:
    service = branch.start_console()
    branch.start_courier()
    case_id = branch.raise_case()
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DELIVERED)
    service.close()
    branch.service = None
    restarted = branch.start_console()  # a new port, as after a reboot
    assert [c.case_id for c in restarted.open_cases()] == [case_id]
    assert branch.courier is not None
    branch.courier.endpoints_changed({branch.console.claims.device_id: endpoint(restarted)})
    restarted.decide(case_id, Ruling.REFER, "", "", "")
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)


def test_a_decision_made_while_the_kiosk_was_away_arrives_when_it_returns(branch: Branch) -> None:
    service, case_id = branch.delivered_then_kiosk_away()
    service.decide(case_id, Ruling.APPROVE, "", "1405/77", "")  # a civil-registration reference
    assert not (service.case(case_id) or pytest.fail()).delivered
    branch.start_courier()
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    wait_for(lambda: (service.case(case_id) or pytest.fail()).delivered)
    assert isinstance(branch.cases.check_in_approved(case_id), Recorded)


def test_a_withdrawn_case_closes_on_the_console(branch: Branch) -> None:
    service = branch.start_console()
    branch.start_courier()
    case_id = branch.raise_case()
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DELIVERED)
    assert branch.cases.cancel_case(case_id, "the person left") is not None
    assert branch.courier is not None
    branch.courier.poke()
    wait_for(lambda: (service.case(case_id) or pytest.fail()).status is RepCaseStatus.CANCELLED)
    assert service.open_cases() == []
    assert service.decide(case_id, Ruling.APPROVE, code(5), "", "") == [DecisionProblem.CASE_CLOSED]


def test_clock_skew_beyond_the_bound_is_reported(branch: Branch) -> None:
    ten_minutes_behind = lambda: time.time_ns() // 1_000_000 - 600_000  # noqa: E731
    branch.start_console(wall_ms=ten_minutes_behind)
    seen: list[LinkStatus] = []
    branch.start_courier(on_status=seen.append)
    wait_for(lambda: seen and seen[-1].skew_alarm)
    assert seen[-1].consoles == 1 and seen[-1].skew_ms is not None and 590_000 < seen[-1].skew_ms < 610_000


def test_resent_and_duplicated_cases_make_one_case(branch: Branch) -> None:
    service = branch.start_console()
    kiosk = TlsIdentity.from_installed(branch.kiosk)
    policy = PeerPolicy(Role.REP, frozenset({"1001"}))
    case_id = f"E-{branch.kiosk.claims.device_id[:6].upper()}-0001"
    wire = m.encode(m.OpenCase(case_id, "2026-05-22T08:30:00+00:00", WIRE_FORM))
    acks = 0
    for _ in range(2):  # the second connection is a kiosk that restarted before it saw the acknowledgement
        with connect("127.0.0.1", service.port, kiosk, policy) as channel:
            channel.send(wire)
            channel.send(wire)
            deadline = time.monotonic() + 30
            got = 0
            while got < 2 and time.monotonic() < deadline:
                payload = channel.receive(timeout=0.5)
                if payload is not None and isinstance(m.decode(payload), m.Ack):
                    got += 1
            acks += got
    assert acks == 4
    assert [c.case_id for c in service.open_cases()] == [case_id]


def test_a_forged_or_foreign_decision_is_refused(branch: Branch, world: World) -> None:
    """A decision signed by a key other than the console's own is refused and never acknowledged."""
    service, case_id = branch.delivered_then_kiosk_away()
    # A second console of the same election signs; the first console's channel delivers it: refused.
    impostor = world.console("rep2")
    from kiosk.core.cases import Decision
    from kiosk.state import load_signing_key
    from kiosk.trust.decisions import sign_decision
    forged = Decision(case_id, branch.kiosk.claims.device_id, Ruling.APPROVE, code(9), "", "",
                      "2026-05-22T09:00:00+00:00", branch.console.claims.device_id)
    signature = sign_decision(forged, branch.kiosk.config.id, load_signing_key(impostor.state))
    service._book.decide(case_id, forged, signature)  # as if the book had been tampered with
    branch.start_courier()
    time.sleep(1.0)
    assert branch.kiosk_status(case_id) is CaseStatus.DELIVERED
    assert not (service.case(case_id) or pytest.fail()).delivered


def test_a_kiosk_reports_its_unacknowledged_double_check_ins_to_the_console(branch: Branch, world: World) -> None:
    from kiosk.store.replica import Replica
    from kiosk.trust.certs import cert_pem
    other = world.installed("kiosk2")
    voter = branch.desk.check(PEOPLE["eligible"].code).voter_key
    assert voter is not None
    branch.desk.check_in(PEOPLE["eligible"].code)
    other_ledger = other.open_ledger()
    other_ledger.check_in(voter)            # the same voter on another kiosk, while the LAN was split
    ledger = branch.kiosk.open_ledger()
    replica = Replica(ledger, branch.kiosk.authority_cert, cert_pem(branch.kiosk.device_cert),
                      branch.kiosk.claims.branches)
    replica.store(other.claims.device_id, cert_pem(other.device_cert), list(other_ledger.events(other.claims.device_id)))
    service = branch.start_console()
    branch.start_courier()
    wait_for(lambda: [k.duplicates for k in service.kiosks()] == [1])
    replica.acknowledge(replica.duplicates()[0], "head")
    assert replica.duplicates() == []
    ledger.close()
    other_ledger.close()


# -- a disputed "already voted": the representative's approval undoes exactly the disputed check-in ------------

def checked_in_elsewhere(branch: Branch, world: World, *people: str) -> tuple[Installed, Ledger]:
    """`people` checked in on a second kiosk of the branch (kiosk2:1, kiosk2:2, …), synced to this kiosk."""
    other = world.installed("kiosk2")
    other_ledger = other.open_ledger()
    registry = branch.kiosk.open_registry()
    for person in people:
        other_ledger.check_in(registry.voter_key(PEOPLE[person].code))
    registry.close()
    sync(branch, other, other_ledger)
    return other, other_ledger


def sync(branch: Branch, other: Installed, other_ledger: Ledger) -> None:
    """What branch sync does: the other kiosk's events, verified and stored in this kiosk's ledger."""
    ledger = branch.kiosk.open_ledger()
    replica = Replica(ledger, branch.kiosk.authority_cert, cert_pem(branch.kiosk.device_cert),
                      branch.kiosk.claims.branches)
    stored = replica.store(other.claims.device_id, cert_pem(other.device_cert),
                           list(other_ledger.events(other.claims.device_id)))
    assert not isinstance(stored, PageRefused), stored
    ledger.close()


def disputed_case(branch: Branch, who: str) -> tuple[CheckInFlow, str]:
    """A poll worker sees `who` as already voted, and the person disputes it: the case goes to the console."""
    staff = StaffBook(branch.kiosk.state / "staff-test.json", branch.kiosk.data_keys())
    staff.set_pin("head", "رئیس", StaffRole.HEAD, "135790")
    staff.set_pin("w1", "کارمند", StaffRole.WORKER, "246802")
    flow = CheckInFlow(branch.desk, staff, time.monotonic, cases=branch.cases)
    flow.sign_in("w1", "246802")
    flow.code_entered(PEOPLE[who].code)
    assert flow.state.outcome is not None and flow.state.outcome.verdict is Verdict.ALREADY_VOTED
    flow.escalate()
    flow.submit_case("علی", "رضایی", "حسن", JalaliDate(1360, 5, 12), "", "این شخص امروز رأی نداده است")
    case_id = flow.state.last_case
    assert case_id is not None
    assert branch.courier is not None
    branch.courier.poke()
    return flow, case_id


def kiosk_events(branch: Branch, kind: Kind) -> list[LedgerEvent]:
    ledger = branch.kiosk.open_ledger()
    events = [e for e in ledger.events(branch.kiosk.claims.device_id) if e.kind is kind]
    ledger.close()
    return events


def test_a_disputed_approval_from_the_console_undoes_exactly_the_disputed_check_in(branch: Branch,
                                                                                   world: World) -> None:
    other, other_ledger = checked_in_elsewhere(branch, world, "eligible", "birthday_today")
    disputed = f"{other.claims.device_id}:1"
    service = branch.start_console()
    branch.start_courier()
    flow, case_id = disputed_case(branch, "eligible")
    wait_for(lambda: service.open_cases())
    [received] = service.open_cases()
    assert received.form.reason is CaseReason.DISPUTED and received.form.disputed == disputed
    service.decide(case_id, Ruling.APPROVE, PEOPLE["eligible"].code, "", "کد ملی او را شخص دیگری به کار برده است")
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    flow.cancel()
    flow.show_cases()
    flow.check_in_case(case_id)
    assert flow.state.approval is not None and flow.state.approval.supersedes == disputed
    assert not flow.state.approval.needs_head   # the representative's word: a poll worker records it
    flow.confirm_approval()
    assert flow.state.screen is Screen.DONE

    [undo] = kiosk_events(branch, Kind.UNDO)
    assert undo.ref == disputed
    console_key = branch.console.device_cert.public_key()
    assert isinstance(console_key, ed25519.Ed25519PublicKey)
    rep = branch.console.claims.device_id
    assert undo_authorized(branch.kiosk.config.id, branch.kiosk.claims.device_id, disputed, undo.reason,
                           lambda device: console_key if device == rep else None)
    ledger, registry = branch.kiosk.open_ledger(), branch.kiosk.open_registry()
    assert ledger.undo_ruling() == UndoRuling(frozenset({disputed}), ())
    [now] = ledger.live_check_ins(registry.voter_key(PEOPLE["eligible"].code))
    assert now.device == branch.kiosk.claims.device_id
    [untouched] = ledger.live_check_ins(registry.voter_key(PEOPLE["birthday_today"].code))
    assert (untouched.device, untouched.seq) == (other.claims.device_id, 2)
    ledger.close()
    registry.close()
    other_ledger.close()


def test_a_disputed_approval_undoes_nothing_when_the_live_check_in_is_another_one(branch: Branch,
                                                                                  world: World) -> None:
    other, other_ledger = checked_in_elsewhere(branch, world, "eligible")
    service = branch.start_console()
    branch.start_courier()
    flow, case_id = disputed_case(branch, "eligible")
    wait_for(lambda: service.open_cases())
    # Meanwhile the other kiosk's head undid its own check-in and checked the person in again.
    other_ledger.undo(other.claims.device_id, 1, "wrong person")
    registry = branch.kiosk.open_registry()
    other_ledger.check_in(registry.voter_key(PEOPLE["eligible"].code))
    registry.close()
    sync(branch, other, other_ledger)
    service.decide(case_id, Ruling.APPROVE, PEOPLE["eligible"].code, "", "")
    wait_for(lambda: branch.kiosk_status(case_id) is CaseStatus.DECIDED)
    flow.cancel()
    flow.show_cases()
    flow.check_in_case(case_id)
    assert flow.state.approval is not None and flow.state.approval.supersedes == ""
    assert flow.state.approval.outcome.verdict is Verdict.ALREADY_VOTED and flow.state.approval.needs_head
    flow.confirm_approval("هویت با شناسنامه بررسی شد")   # a poll worker alone
    assert flow.state.screen is Screen.APPROVAL
    assert kiosk_events(branch, Kind.UNDO) == [] and kiosk_events(branch, Kind.CHECK_IN) == []
    other_ledger.close()


def test_a_decision_with_a_forged_or_misdirected_undo_is_refused_and_undoes_nothing(
        branch: Branch, world: World, caplog: pytest.LogCaptureFixture) -> None:
    from kiosk.core.cases import UndoAuthorization
    caplog.set_level(logging.WARNING, logger="kiosk")
    other, other_ledger = checked_in_elsewhere(branch, world, "eligible", "birthday_today")
    disputed = f"{other.claims.device_id}:1"
    form = CaseForm("علی", "رضایی", "حسن", JalaliDate(1360, 5, 12), "", "", CaseReason.DISPUTED, disputed)
    service = branch.start_console()
    branch.start_courier()
    forged_id, elsewhere_id = branch.raise_case(form), branch.raise_case(form)
    wait_for(lambda: all(branch.kiosk_status(c) is CaseStatus.DELIVERED for c in (forged_id, elsewhere_id)))
    assert branch.courier is not None
    branch.courier.close()
    branch.courier = None
    election, kiosk, rep = branch.kiosk.config.id, branch.kiosk.claims.device_id, branch.console.claims.device_id
    console_key, impostor_key = load_signing_key(branch.console.state), load_signing_key(world.console("rep2").state)
    for case_id, undo in (
            # the undo signed by another console's key, delivered on this console's channel
            (forged_id, UndoAuthorization(disputed, sign_undo(election, forged_id, kiosk, rep, disputed,
                                                              impostor_key))),
            # signed by the console itself, but for another check-in than the case disputes
            (elsewhere_id, UndoAuthorization(f"{other.claims.device_id}:2", sign_undo(
                election, elsewhere_id, kiosk, rep, f"{other.claims.device_id}:2", console_key)))):
        decision = Decision(case_id, kiosk, Ruling.APPROVE, PEOPLE["eligible"].code, "", "",
                            "2026-05-22T09:00:00+00:00", rep)
        service._book.decide(case_id, decision, sign_decision(decision, election, console_key), undo)  # tampered
    branch.start_courier()
    refusals = {forged_id: "undo authorization does not verify",
                elsewhere_id: "the undo names another check-in than the case disputes"}
    wait_for(lambda: all(f'"case": "{c}", "reason": "{r}"' in caplog.text for c, r in refusals.items()))
    for case_id in (forged_id, elsewhere_id):
        assert branch.kiosk_status(case_id) is CaseStatus.DELIVERED   # not recorded, never acknowledged
        assert not (service.case(case_id) or pytest.fail()).delivered
        assert isinstance(branch.cases.check_in_approved(case_id), NotApproved)
    assert kiosk_events(branch, Kind.UNDO) == [] and kiosk_events(branch, Kind.DECISION) == []
    assert branch.desk.check(PEOPLE["eligible"].code).verdict is Verdict.ALREADY_VOTED
    other_ledger.close()
