"""An in-memory case book with the console's port (CaseBookPort) and test controls, safe to feed from any thread."""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import replace

from kiosk.core.cases import CaseForm, CaseReason, Decision, DecisionProblem, Ruling, check_decision
from kiosk.core.console import KioskSeen, RepCase, RepCaseStatus, UnlockGrant
from kiosk.core.jalali import JalaliDate
from kiosk.core.national_code import ascii_digits_only, parse_national_code

REP_DEVICE = "7e57c0de00000001"


def iso(at: dt.datetime) -> str:
    """UTC ISO text, as the book stores wall times."""
    return at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def form(first: str = "مریم", last: str = "رضایی", father: str = "حسن",
         born: JalaliDate | None = JalaliDate(1370, 5, 10), certificate: str = "۴۵۶", note: str = "",
         reason: CaseReason = CaseReason.NO_CODE, disputed: str = "") -> CaseForm:
    """A filled case form (`disputed`: the check-in a disputed "already voted" is about)."""
    return CaseForm(first, last, father, born, certificate, note, reason, disputed)


class FakeCaseBook:
    """What the console service offers its screens, kept in memory; listeners are called on the caller's thread."""

    def __init__(self, wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._cases: dict[str, RepCase] = {}
        self._kiosks: dict[str, KioskSeen] = {}
        self._listeners: list[Callable[[], None]] = []
        self.decisions: list[Decision] = []
        self.fail_next: OSError | None = None   # the next decide raises this (a full disk)
        self.unlocks: list[tuple[str, str, bool]] = []   # (kiosk, account, granted) as the representative answered
        self.can_unlock = True                  # False: a console that holds no unlock for its kiosks

    # -- CaseBookPort --------------------------------------------------------------------
    def open_cases(self) -> list[RepCase]:
        """Cases waiting for a decision, oldest first."""
        with self._lock:
            found = [c for c in self._cases.values() if c.status is RepCaseStatus.OPEN]
        return sorted(found, key=lambda c: (c.received_at, c.case_id))

    def recent_decided(self, limit: int = 20) -> list[RepCase]:
        """The latest decided or withdrawn cases, newest first."""
        with self._lock:
            closed = [c for c in self._cases.values() if c.status is not RepCaseStatus.OPEN]
        closed.sort(key=lambda c: c.decision.decided_at if c.decision else c.received_at, reverse=True)
        return closed[:limit]

    def case(self, case_id: str) -> RepCase | None:
        """One case by id."""
        with self._lock:
            return self._cases.get(case_id)

    def decide(self, case_id: str, ruling: Ruling, national_code: str, reference: str,
               reason: str) -> RepCase | list[DecisionProblem]:
        """Check and keep a decision, as the service does: CASE_CLOSED for a case that is no longer open."""
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        problems = check_decision(ruling, national_code, reference, reason)
        if problems:
            return problems
        code = parse_national_code(national_code) if national_code else ""
        assert isinstance(code, str)  # check_decision accepted it
        with self._lock:
            case = self._cases.get(case_id)
            if case is None or case.status is not RepCaseStatus.OPEN:
                return [DecisionProblem.CASE_CLOSED]
            approve = ruling is Ruling.APPROVE
            decision = Decision(case_id, case.kiosk, ruling, code if approve else "",
                                ascii_digits_only(reference.strip()) if approve else "", reason.strip(),
                                iso(self._wall()), REP_DEVICE)
            self.decisions.append(decision)
            decided = self._cases[case_id] = replace(case, status=RepCaseStatus.DECIDED, decision=decision)
        self._notify()
        return decided

    def kiosks(self) -> list[KioskSeen]:
        """Every kiosk heard from, by branch and device."""
        with self._lock:
            return sorted(self._kiosks.values(), key=lambda k: (k.branch, k.device))

    def grant_unlock(self, kiosk: str, account: str) -> UnlockGrant:
        """Send the kiosk its unlock if it is asking, as the service does over its link."""
        if not self.can_unlock:
            return UnlockGrant.CANNOT
        if not self._answer_ask(kiosk):
            return UnlockGrant.NOT_ASKING
        self.unlocks.append((kiosk, account, True))
        return UnlockGrant.SENT

    def deny_unlock(self, kiosk: str, account: str) -> bool:
        """Refuse a kiosk's request; False if it was not asking."""
        if not self._answer_ask(kiosk):
            return False
        self.unlocks.append((kiosk, account, False))
        return True

    def _answer_ask(self, kiosk: str) -> bool:
        with self._lock:
            seen = self._kiosks.get(kiosk)
            if seen is None or not seen.asks_unlock:
                return False
            self._kiosks[kiosk] = replace(seen, asks_unlock=False)
        self._notify()
        return True

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Be told whenever a case or a kiosk changes (on the thread that changed it)."""
        self._listeners.append(listener)

    # -- test controls -------------------------------------------------------------------
    def receive(self, case_id: str, kiosk: str = "ab12cd34ef567890", branch: str = "1001",
                case_form: CaseForm | None = None, minutes_ago: float = 0.0) -> RepCase:
        """A kiosk's case arrives."""
        received = self._wall() - dt.timedelta(minutes=minutes_ago)
        case = RepCase(case_id, kiosk, branch, case_form or form(), iso(received), iso(received),
                       RepCaseStatus.OPEN)
        with self._lock:
            self._cases[case_id] = case
        self._notify()
        return case

    def withdraw(self, case_id: str) -> None:
        """The kiosk withdrew an open case (the person left)."""
        with self._lock:
            self._cases[case_id] = replace(self._cases[case_id], status=RepCaseStatus.CANCELLED)
        self._notify()

    def forget(self, case_id: str) -> None:
        """The case vanishes from the book altogether (what `case()` answering None looks like)."""
        with self._lock:
            del self._cases[case_id]
        self._notify()

    def seen(self, kiosk: KioskSeen) -> None:
        """A kiosk's status arrived."""
        with self._lock:
            self._kiosks[kiosk.device] = kiosk
        self._notify()

    def report_duplicates(self, device: str, count: int) -> None:
        """A kiosk's status says how many double check-ins its staff have not acknowledged yet."""
        with self._lock:
            self._kiosks[device] = replace(self._kiosks[device], duplicates=count)
        self._notify()

    def report_anomalies(self, device: str, count: int) -> None:
        """A kiosk's status says how many records it holds that the rules refuse to count."""
        with self._lock:
            self._kiosks[device] = replace(self._kiosks[device], anomalies=count)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
