"""Cases from a kiosk to the representative's console and decisions back, over real mutual TLS on loopback.

Discovery is left out here (the courier is handed the console's endpoint as
zeroconf would hand it); tests/net/test_end_to_end.py runs the whole path.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from helpers import PEOPLE, World, code
from kiosk.core.cases import CaseForm, CaseReason, CaseStatus, DecisionProblem, NotApproved, Ruling
from kiosk.core.console import RepCaseStatus
from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import JalaliDate
from kiosk.core.outcome import Recorded
from kiosk.desk import CaseDesk, Desk
from kiosk.net import messages as m
from kiosk.net.channel import PeerPolicy, TlsIdentity, connect
from kiosk.net.courier import Courier, LinkStatus
from kiosk.net.discovery import Endpoint
from kiosk.rep.service import RepService
from kiosk.state import Installed
from kiosk.store.ledger import verify_chain
from kiosk.trust.certs import Role

FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "۴۵۶", "بدون کارت", CaseReason.NO_CODE)
# What the outbox sends for FORM: the birth-certificate number in ASCII digits.
WIRE_FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "بدون کارت", CaseReason.NO_CODE)


def wait_for(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Poll until `condition()` is true, or fail."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def endpoint(service: RepService) -> Endpoint:
    """What zeroconf would report for a console."""
    claims = service.identity.claims
    return Endpoint(f"{claims.device_id}._kiosk-rep._tcp.local.", claims.device_id, "127.0.0.1", service.port,
                    claims.election_id, claims.branches, service.identity.fingerprint, "1")


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
            deadline = time.monotonic() + 5
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
