"""The representative's console as a state machine with no screen and no I/O: sign-in, the queue, a case, kiosks.

The UI renders `ConsoleState` and calls the commands. The case book (kept by
the network service) and the staff book are reached through two small ports.
The book tells the UI bridge when something changed, and the bridge calls
`book_changed()` on the UI thread, so the flow itself is single-threaded.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Protocol, assert_never

from kiosk.core.cases import DecisionProblem, Ruling
from kiosk.core.console import CaseBookPort, KioskSeen, RepCase, RepCaseStatus, UnlockGrant
from kiosk.core.staff import CardOutcome, CardSignIn, Granted, Locked, NoSuchAccount, Role, SignIn, WrongPin

IDLE_LOCK_SECONDS = 600.0
SKEW_SHOWN_MS = 30_000   # a kiosk clock further off than this is shown on the kiosks screen


class ConsoleScreen(Enum):
    """Which screen the representative sees."""

    SIGN_IN = "sign_in"
    QUEUE = "queue"
    CASE = "case"
    KIOSKS = "kiosks"


class ConsoleNotice(Enum):
    """A one-line message on top of the current screen."""

    WRONG_PIN = "wrong_pin"
    LOCKED_OUT = "locked_out"
    UNKNOWN_ACCOUNT = "unknown_account"
    DECISION_INCOMPLETE = "decision_incomplete"
    CASE_GONE = "case_gone"            # withdrawn by the kiosk, or decided elsewhere, while open here
    DECIDED = "decided"
    NOT_RECORDED = "not_recorded"      # the book could not keep the decision (disk full, I/O error)
    UNLOCK_SENT = "unlock_sent"        # the kiosk was sent its day's unlock
    UNLOCK_REFUSED = "unlock_refused"  # the representative refused a kiosk's request
    UNLOCK_NOT_ASKING = "unlock_not_asking"   # the kiosk stopped asking (went away, or was answered)
    UNLOCK_CANNOT = "unlock_cannot"    # this console cannot unlock that kiosk
    CARD_PIN_WRONG = "card_pin_wrong"  # the representative's card refused its PIN (tries left in the detail)
    CARD_BLOCKED = "card_blocked"
    CARD_REFUSED = "card_refused"      # not the representative's card for these branches, or not its key
    CARD_NONE = "card_none"
    CARD_UNREADABLE = "card_unreadable"
    CARD_PIN_SHORT = "card_pin_short"


class ConsoleStaffPort(Protocol):
    """The console's accounts (kiosk.store.staff.StaffBook)."""

    def sign_in(self, account: str, pin: str) -> SignIn:
        """Check a PIN."""
        ...

    def accounts(self) -> list[tuple[str, str, Role]]:
        """(account, name, role) of every account."""
        ...


@dataclass(frozen=True, slots=True)
class ConsoleState:
    """Everything a console screen needs to draw itself."""

    screen: ConsoleScreen = ConsoleScreen.SIGN_IN
    account: str | None = None
    cases: tuple[RepCase, ...] = ()         # open, oldest first
    recent: tuple[RepCase, ...] = ()        # decided or withdrawn, newest first
    kiosks: tuple[KioskSeen, ...] = ()
    duplicates: tuple[KioskSeen, ...] = ()  # kiosks reporting double check-ins not yet acknowledged there
    anomalies: tuple[KioskSeen, ...] = ()   # kiosks reporting records the rules refuse to count
    asking: tuple[KioskSeen, ...] = ()      # locked kiosks asking the representative to unlock them
    selected: RepCase | None = None
    problems: tuple[DecisionProblem, ...] = ()
    notice: ConsoleNotice | None = None
    notice_detail: float = 0.0              # seconds locked, or tries left, with the notice
    notice_case: RepCase | None = None      # the case a DECIDED or CASE_GONE notice is about
    alert: int = 0                          # cases that arrived since the representative last looked at the queue
    last_activity: float = 0.0
    accounts: tuple[tuple[str, str, Role], ...] = ()


class ConsoleFlow:
    """Commands in, a new ConsoleState out to every listener."""

    def __init__(self, book: CaseBookPort, staff: ConsoleStaffPort, now: Callable[[], float],
                 idle_lock_seconds: float = IDLE_LOCK_SECONDS) -> None:
        self._book, self._staff, self._now, self._idle = book, staff, now, idle_lock_seconds
        self._listeners: list[Callable[[ConsoleState], None]] = []
        cases = tuple(book.open_cases())
        # Cases already waiting at start-up count as new: after a restart nobody has looked at them here.
        self._known = {case.case_id for case in cases}
        kiosks = tuple(book.kiosks())
        self.state = ConsoleState(cases=cases, recent=tuple(book.recent_decided()), kiosks=kiosks,
                                  duplicates=reporting_duplicates(kiosks), anomalies=reporting_anomalies(kiosks),
                                  asking=tuple(k for k in kiosks if k.asks_unlock),
                                  alert=len(cases), last_activity=now(),
                                  accounts=tuple(staff.accounts()))

    def subscribe(self, listener: Callable[[ConsoleState], None]) -> None:
        """Be told of every new state (on the caller's thread)."""
        self._listeners.append(listener)

    # -- the representative ------------------------------------------------------------
    def sign_in(self, account: str, pin: str) -> None:
        """Unlock with an account and its PIN; the queue shows first."""
        result = self._staff.sign_in(account, pin)
        match result:
            case Granted():
                self._set(screen=ConsoleScreen.QUEUE, account=result.account, notice=None, alert=0, **self._read())
            case WrongPin():
                notice = ConsoleNotice.LOCKED_OUT if result.locked_for > 0 else ConsoleNotice.WRONG_PIN
                detail = result.locked_for if result.locked_for > 0 else float(result.tries_left)
                self._set(notice=notice, notice_detail=detail)
            case Locked():
                self._set(notice=ConsoleNotice.LOCKED_OUT, notice_detail=result.seconds)
            case NoSuchAccount():
                self._set(notice=ConsoleNotice.UNKNOWN_ACCOUNT)
            case _ as unreachable:
                assert_never(unreachable)

    def card_signed_in(self, result: CardSignIn) -> None:
        """The representative's card sign-in ended (run off Kivy's thread): the queue, or why not."""
        if self.state.screen is not ConsoleScreen.SIGN_IN:
            return
        if result.outcome is CardOutcome.GRANTED:
            self._set(screen=ConsoleScreen.QUEUE, account=result.account, notice=None, alert=0, **self._read())
            return
        self._set(notice=ConsoleNotice(result.outcome.value), notice_detail=float(result.tries_left))

    def lock(self) -> None:
        """The lock button, or idle time: back to sign-in, dropping the open case and what was typed."""
        self._set(screen=ConsoleScreen.SIGN_IN, account=None, selected=None, problems=(), notice=None,
                  notice_case=None)

    def open_case(self, case_id: str) -> None:
        """A row of the queue was touched: show the case and its decision boxes."""
        if self.state.screen is not ConsoleScreen.QUEUE:
            return
        case = self._book.case(case_id)
        if case is None or case.status is not RepCaseStatus.OPEN:
            self._set(notice=ConsoleNotice.CASE_GONE, notice_case=case, **self._read())
            return
        self._set(screen=ConsoleScreen.CASE, selected=case, problems=(), notice=None, notice_case=None)

    def decide(self, ruling: Ruling, national_code: str, reference: str, reason: str) -> None:
        """Sign the decision on the case on screen; the book checks it and normalises its digits."""
        selected = self.state.selected
        if self.state.screen is not ConsoleScreen.CASE or selected is None:
            return
        current = self._book.case(selected.case_id)
        if current is None or current.status is not RepCaseStatus.OPEN:
            self._set(**self._gone(current or selected), **self._read())
            return
        try:
            result = self._book.decide(selected.case_id, ruling, national_code, reference, reason)
        except OSError:
            # Nothing was signed or sent: say so and keep what the representative typed.
            self._set(notice=ConsoleNotice.NOT_RECORDED)
            return
        if isinstance(result, list):
            if DecisionProblem.CASE_CLOSED in result:  # it closed between the check above and now
                self._set(**self._gone(self._book.case(selected.case_id) or current), **self._read())
            else:
                self._set(notice=ConsoleNotice.DECISION_INCOMPLETE, problems=tuple(result))
            return
        self._set(screen=ConsoleScreen.QUEUE, selected=None, problems=(), notice=ConsoleNotice.DECIDED,
                  notice_case=result, alert=0, **self._read())

    def back(self) -> None:
        """From a case or the kiosks screen back to the queue."""
        if self.state.screen in (ConsoleScreen.CASE, ConsoleScreen.KIOSKS):
            self.show_queue()

    def show_queue(self) -> None:
        """The queue of open cases; looking at it clears the alert."""
        if self.state.screen is not ConsoleScreen.SIGN_IN:
            self._set(screen=ConsoleScreen.QUEUE, selected=None, problems=(), notice=None, notice_case=None,
                      alert=0, **self._read())

    def show_kiosks(self) -> None:
        """Every kiosk of the console's branches, online or not."""
        if self.state.screen in (ConsoleScreen.QUEUE, ConsoleScreen.CASE):
            self._set(screen=ConsoleScreen.KIOSKS, selected=None, problems=(), notice=None, notice_case=None,
                      **self._read())

    def unlock_kiosk(self, kiosk: str) -> None:
        """The signed-in representative confirmed a locked kiosk of the list: it gets its day's unlock."""
        account = self.state.account
        if self.state.screen is not ConsoleScreen.KIOSKS or account is None:
            return
        notice = {UnlockGrant.SENT: ConsoleNotice.UNLOCK_SENT, UnlockGrant.NOT_ASKING: ConsoleNotice.UNLOCK_NOT_ASKING,
                  UnlockGrant.CANNOT: ConsoleNotice.UNLOCK_CANNOT}[self._book.grant_unlock(kiosk, account)]
        self._set(notice=notice, **self._read())

    def refuse_unlock(self, kiosk: str) -> None:
        """The representative refused a kiosk's request; it stays locked and is told so."""
        account = self.state.account
        if self.state.screen is not ConsoleScreen.KIOSKS or account is None:
            return
        refused = self._book.deny_unlock(kiosk, account)
        self._set(notice=ConsoleNotice.UNLOCK_REFUSED if refused else ConsoleNotice.UNLOCK_NOT_ASKING, **self._read())

    def seen(self) -> None:
        """The representative acknowledged the alert (touched the banner)."""
        if self.state.screen is not ConsoleScreen.SIGN_IN:
            self._set(alert=0)

    # -- the book and the clock --------------------------------------------------------
    def book_changed(self) -> None:
        """The book says a case or a kiosk changed: re-read it, count new cases, leave a case that closed."""
        cases = tuple(self._book.open_cases())
        arrived = {case.case_id for case in cases} - self._known
        self._known |= arrived
        changes = {**self._lists(cases), "alert": self.state.alert + len(arrived)}
        selected = self.state.selected
        if self.state.screen is ConsoleScreen.CASE and selected is not None:
            current = self._book.case(selected.case_id)
            if current is None or current.status is not RepCaseStatus.OPEN:
                # The alert is left alone, so a case that came in with the change still sounds.
                changes.update(self._gone(current or selected))
            else:
                changes["selected"] = current
        self._publish(changes)  # not the representative's doing: the idle timer keeps running

    def tick(self) -> None:
        """Called about once a second: an idle console locks itself."""
        if self.state.screen is not ConsoleScreen.SIGN_IN and self._now() - self.state.last_activity >= self._idle:
            self.lock()

    # -- inside ------------------------------------------------------------------------
    def _read(self) -> dict[str, object]:
        return self._lists(tuple(self._book.open_cases()))

    def _lists(self, cases: tuple[RepCase, ...]) -> dict[str, object]:
        kiosks = tuple(self._book.kiosks())
        return {"cases": cases, "recent": tuple(self._book.recent_decided()), "kiosks": kiosks,
                "duplicates": reporting_duplicates(kiosks), "anomalies": reporting_anomalies(kiosks),
                "asking": tuple(k for k in kiosks if k.asks_unlock)}

    @staticmethod
    def _gone(case: RepCase) -> dict[str, object]:
        """The changes that leave a case which closed elsewhere (withdrawn, or decided on another console)."""
        return {"screen": ConsoleScreen.QUEUE, "selected": None, "problems": (), "notice": ConsoleNotice.CASE_GONE,
                "notice_case": case}

    def _set(self, **changes: object) -> None:
        """A change the representative made: it also restarts the idle timer."""
        self._publish({**changes, "last_activity": self._now()})

    def _publish(self, changes: dict[str, object]) -> None:
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        for listener in list(self._listeners):
            listener(self.state)


def minutes_waiting(case: RepCase, now_utc: dt.datetime) -> int:
    """Whole minutes since the console received the case (never negative, whatever the clock did)."""
    received = dt.datetime.fromisoformat(case.received_at)
    if received.tzinfo is None:
        received = received.replace(tzinfo=dt.timezone.utc)
    return max(int((now_utc - received).total_seconds() // 60), 0)


def skew_shown(kiosk: KioskSeen) -> bool:
    """True when a kiosk's clock is far enough off to show the representative."""
    return abs(kiosk.skew_ms) > SKEW_SHOWN_MS


def reporting_duplicates(kiosks: tuple[KioskSeen, ...]) -> tuple[KioskSeen, ...]:
    """The kiosks whose last status reported double check-ins their staff have not acknowledged."""
    # Acknowledging is the kiosks' business: the console shows what they report until they report zero.
    return tuple(kiosk for kiosk in kiosks if kiosk.duplicates > 0)


def reporting_anomalies(kiosks: tuple[KioskSeen, ...]) -> tuple[KioskSeen, ...]:
    """The kiosks whose last status reported records the rules refuse to count (kept as evidence there)."""
    # Evidence is never cleared: a kiosk keeps reporting it, and the console keeps showing it, all day.
    return tuple(kiosk for kiosk in kiosks if kiosk.anomalies > 0)
