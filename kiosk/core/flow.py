"""The check-in flow that staff walk through all day, as a state machine with no screen and no I/O.

The UI renders `FlowState` and calls the commands; drivers feed card and
reader events in. The desk (registry + ledger), the staff book, the cases and
the branch's double check-ins are reached through small ports, so the flow
runs the same under Kivy, in tests, and in a terminal.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import assert_never

from kiosk.core.approval import ApprovalCheck, HeadConfirmation, head_reason_ok
from kiosk.core.branch import Duplicate
from kiosk.core.cases import Case, CaseForm, CaseReason, CaseStatus, FormProblem, NotApproved
from kiosk.core.closing import DaySummary
from kiosk.core.eligibility import Verdict
from kiosk.core.jalali import JalaliDate
from kiosk.core.outcome import AlreadyCheckedIn, CheckedIn, Outcome, Recorded
from kiosk.core.flow_ports import CasePort, DeskPort, DuplicatePort, PrintPort, StaffPort, SummaryPort
from kiosk.core.flow_ports import Printed as Printed
from kiosk.core.staff import CardOutcome, CardSignIn, Granted, Locked, NoSuchAccount, Role, WrongPin

IDLE_LOCK_SECONDS = 300.0
# Verdicts a typed code may get from a slip of the finger: kept in the box for correction.
CORRECTABLE = frozenset({Verdict.INVALID_CODE, Verdict.NOT_FOUND})
_REASONS = {Verdict.NOT_FOUND: CaseReason.NOT_FOUND, Verdict.CARD_NOT_TRUSTED: CaseReason.CARD_NOT_TRUSTED,
            Verdict.ALREADY_VOTED: CaseReason.DISPUTED}
DONE_SECONDS = 6.0   # long enough to read the name and the number, with a countdown and a button to go on


class Screen(Enum):
    """Which screen staff see."""

    SIGN_IN = "sign_in"
    READY = "ready"
    VERDICT = "verdict"
    DONE = "done"
    ESCALATION = "escalation"
    CASES = "cases"
    STAFF = "staff"
    DUPLICATES = "duplicates"   # voters checked in on two kiosks while the branch LAN was split
    SUMMARY = "summary"         # the branch head's figures of the day, for the close-of-polls minutes
    APPROVAL = "approval"       # an approved case's registry verdict, before it is recorded
    HELP = "help"               # what each verdict means, what to do when a device fails, whom to call


class Notice(Enum):
    """A one-line message on top of the current screen; the flow keeps running."""

    WRONG_PIN = "wrong_pin"
    LOCKED_OUT = "locked_out"
    UNKNOWN_ACCOUNT = "unknown_account"
    CARD_REMOVED = "card_removed"
    CARD_UNREADABLE = "card_unreadable"
    READER_UNPLUGGED = "reader_unplugged"
    NOT_RECORDED = "not_recorded"      # the ledger could not write (disk full, I/O error)
    HEAD_ONLY = "head_only"
    FORM_INCOMPLETE = "form_incomplete"
    SCAN_UNUSABLE = "scan_unusable"
    PIN_REFUSED = "pin_refused"
    WORKER_ADDED = "worker_added"
    DECISION_ARRIVED = "decision_arrived"   # the representative decided one of this kiosk's cases
    CASE_WITHDRAWN = "case_withdrawn"
    APPROVAL_USED = "approval_used"         # the approval already checked its person in
    DUPLICATE_CHECK_IN = "duplicate_check_in"   # branch sync found a voter checked in on two kiosks
    NO_PRINTER = "no_printer"               # no receipt printer is attached to this kiosk
    PRINTING = "printing"
    PRINTED = "printed"
    PRINTER_PAPER_OUT = "printer_paper_out"   # the job was not printed, and why
    PRINTER_OFFLINE = "printer_offline"
    PRINTER_ERROR = "printer_error"
    HEAD_CONFIRMATION = "head_confirmation"  # this approval is recorded only on the branch head's word, with a reason
    APPROVAL_REASON = "approval_reason"      # the head's confirmation needs a reason (one line, not too long)
    APPROVAL_CHANGED = "approval_changed"    # the registry or the ledger says something new: look again
    CARD_PIN_WRONG = "card_pin_wrong"        # an official's card refused its PIN (tries left in the detail)
    CARD_BLOCKED = "card_blocked"
    CARD_REFUSED = "card_refused"            # the card cannot sign in here
    CARD_NONE = "card_none"                  # no card in the reader
    CARD_PIN_SHORT = "card_pin_short"


def print_notice(result: Printed) -> Notice:
    """What staff are told when a print job ends."""
    match result:
        case Printed.PRINTED:
            return Notice.PRINTED
        case Printed.PAPER_OUT:
            return Notice.PRINTER_PAPER_OUT
        case Printed.OFFLINE:
            return Notice.PRINTER_OFFLINE
        case Printed.ERROR:
            return Notice.PRINTER_ERROR
        case _ as unreachable:
            assert_never(unreachable)


@dataclass(frozen=True, slots=True)
class FlowState:
    """Everything a screen needs to draw itself."""

    screen: Screen = Screen.SIGN_IN
    account: str | None = None
    role: Role | None = None
    outcome: Outcome | None = None
    receipt: Recorded | None = None
    notice: Notice | None = None
    notice_detail: float = 0.0          # seconds locked, or tries left, with the notice
    checkins: int = 0                   # check-ins made on this kiosk since start-up
    last_activity: float = 0.0
    done_at: float = 0.0
    case_reason: CaseReason = CaseReason.NO_CODE
    case_disputed: str = ""             # "device:seq" of the check-in a disputed "already voted" case is about
    form_problems: tuple[FormProblem, ...] = ()
    cases: tuple[Case, ...] = ()
    last_case: str | None = None
    decided_unseen: int = 0             # decisions that arrived since staff last opened the list of cases
    accounts: tuple[tuple[str, str, Role], ...] = ()
    duplicates: tuple[Duplicate, ...] = ()  # double check-ins not yet acknowledged on this kiosk, oldest first
    summary: DaySummary | None = None   # today's figures while the branch head looks at them
    printing: bool = False              # a print job is under way
    approval: ApprovalCheck | None = None   # the approved case on screen before it is recorded
    correcting: str = ""                # a typed code found invalid or not found, back in the box for correction


class CheckInFlow:
    """Commands in, a new FlowState out to every listener."""

    def __init__(self, desk: DeskPort, staff: StaffPort, now: Callable[[], float], cases: CasePort | None = None,
                 idle_lock_seconds: float = IDLE_LOCK_SECONDS, done_seconds: float = DONE_SECONDS,
                 checkins_so_far: int = 0, duplicates: DuplicatePort | None = None,
                 summary: SummaryPort | None = None) -> None:
        self._desk, self._staff, self._now, self._cases = desk, staff, now, cases
        self._duplicates, self._summary = duplicates, summary
        self._printer: PrintPort | None = None
        self._idle, self._done = idle_lock_seconds, done_seconds
        self._code: str | None = None       # the person on screen, in memory only
        self._listeners: list[Callable[[FlowState], None]] = []
        self.state = FlowState(checkins=checkins_so_far, last_activity=now(), accounts=tuple(staff.accounts()),
                               duplicates=self._read_duplicates())

    def subscribe(self, listener: Callable[[FlowState], None]) -> None:
        """Be told of every new state (on the caller's thread; the UI bridge moves it to its own)."""
        self._listeners.append(listener)

    def attach_printer(self, printer: PrintPort) -> None:
        """The receipt printer, once the app's wiring exists (its results come back through the UI's bridge)."""
        self._printer = printer

    # -- staff -------------------------------------------------------------------------
    def sign_in(self, account: str, pin: str) -> None:
        """Unlock with an account and its PIN."""
        result = self._staff.sign_in(account, pin)
        match result:
            case Granted():
                # Whoever signs in first is told of double check-ins that arrived while the kiosk was locked.
                duplicates = self._read_duplicates()
                self._set(screen=Screen.READY, account=result.account, role=result.role, duplicates=duplicates,
                          notice=Notice.DUPLICATE_CHECK_IN if duplicates else None)
            case WrongPin():
                notice = Notice.LOCKED_OUT if result.locked_for > 0 else Notice.WRONG_PIN
                detail = result.locked_for if result.locked_for > 0 else float(result.tries_left)
                self._set(notice=notice, notice_detail=detail)
            case Locked():
                self._set(notice=Notice.LOCKED_OUT, notice_detail=result.seconds)
            case NoSuchAccount():
                self._set(notice=Notice.UNKNOWN_ACCOUNT)
            case _ as unreachable:
                assert_never(unreachable)

    def card_signed_in(self, result: CardSignIn) -> None:
        """An official's card sign-in ended (the UI ran it off Kivy's thread): the branch head is in, or why not."""
        if self.state.screen is not Screen.SIGN_IN:
            return
        if result.outcome is CardOutcome.GRANTED:
            duplicates = self._read_duplicates()
            self._set(screen=Screen.READY, account=result.account, role=Role.HEAD, duplicates=duplicates,
                      notice=Notice.DUPLICATE_CHECK_IN if duplicates else None)
            return
        notice = Notice.CARD_UNREADABLE if result.outcome is CardOutcome.UNREADABLE else Notice(result.outcome.value)
        self._set(notice=notice, notice_detail=float(result.tries_left))

    def lock(self) -> None:
        """The lock button, or idle time: back to sign-in, forgetting the person on screen."""
        self._code = None
        self._set(screen=Screen.SIGN_IN, account=None, role=None, outcome=None, receipt=None, notice=None,
                  summary=None, approval=None)

    # -- a person ----------------------------------------------------------------------
    def code_entered(self, raw: str, typed: bool = True) -> None:
        """A code typed on the keypad (or a keyboard), or scanned (`typed=False`).

        A typed code that is invalid or not found goes back into the box on Ready with its verdict above it:
        a slip of the finger is corrected there, and a referral is offered only where a correction cannot help.
        """
        if not self._ready_for_person():
            return
        outcome = self._desk.check(raw)
        if typed and outcome.verdict in CORRECTABLE:
            self._code = None
            self._set(screen=Screen.READY, outcome=outcome, receipt=None, notice=None, correcting=raw)
        else:
            self._show(outcome, raw)

    def card_read(self, national_code: str, certificate_trusted: bool) -> None:
        """A card was read by the driver."""
        if self._ready_for_person():
            self._show(self._desk.check_card(national_code, certificate_trusted), national_code)

    def confirm(self) -> None:
        """Staff compared the person with the name on screen: record the check-in."""
        state = self.state
        if state.screen is not Screen.VERDICT or state.outcome is None or self._code is None:
            return
        if state.outcome.verdict is not Verdict.ELIGIBLE:
            return
        try:
            result = self._desk.check_in(self._code, account=state.account or "")
        except OSError:
            # Disk full or an I/O error: nothing was acknowledged; say so and stay on the verdict.
            self._set(notice=Notice.NOT_RECORDED)
            return
        if isinstance(result, CheckedIn):
            self._code = None
            self._set(screen=Screen.DONE, receipt=result.recorded, outcome=result.outcome, notice=None,
                      checkins=state.checkins + 1, done_at=self._now())
        else:
            self._set(outcome=result, notice=None)

    def cancel(self) -> None:
        """Back to Ready without recording anything; from today's summary, back to the staff screen."""
        if self.state.screen is Screen.SUMMARY:
            self._set(screen=Screen.STAFF, summary=None, notice=None, accounts=tuple(self._staff.accounts()))
        elif self.state.screen is Screen.APPROVAL and self._cases is not None:
            self._set(screen=Screen.CASES, approval=None, notice=None, cases=tuple(self._cases.cases()))
        elif self.state.screen in (Screen.VERDICT, Screen.DONE, Screen.ESCALATION, Screen.CASES, Screen.STAFF,
                                 Screen.DUPLICATES, Screen.HELP):
            self._code = None
            self._set(screen=Screen.READY, outcome=None, receipt=None, notice=None)

    def escalate(self) -> None:
        """No code, not found, unreadable card, disputed: open the form for the representative."""
        if self.state.screen in (Screen.READY, Screen.VERDICT) and self._cases is not None:
            on_verdict = self.state.screen is Screen.VERDICT or self.state.correcting
            outcome = self.state.outcome if on_verdict else None
            reason = _REASONS.get(outcome.verdict, CaseReason.NO_CODE) if outcome else CaseReason.NO_CODE
            if self.state.notice is Notice.CARD_UNREADABLE:
                reason = CaseReason.CARD_UNREADABLE
            # The case names the check-in the person disputes, so an approval can undo exactly that one.
            previous = outcome.previous if outcome and reason is CaseReason.DISPUTED else None
            disputed = f"{previous.device}:{previous.seq}" if previous else ""
            self._set(screen=Screen.ESCALATION, notice=None, case_reason=reason, case_disputed=disputed,
                      form_problems=())

    def submit_case(self, first_name: str, last_name: str, father_name: str, birth_date: JalaliDate | None,
                    birth_certificate: str, note: str) -> None:
        """Raise the case; it is durable before the form closes, and the list of cases shows it."""
        if self.state.screen is not Screen.ESCALATION or self._cases is None:
            return
        form = CaseForm(first_name, last_name, father_name, birth_date, birth_certificate, note,
                        self.state.case_reason, self.state.case_disputed)
        try:
            result = self._cases.raise_case(form)
        except OSError:
            self._set(notice=Notice.NOT_RECORDED)
            return
        if isinstance(result, list):
            self._set(notice=Notice.FORM_INCOMPLETE, form_problems=tuple(result))
            return
        self._code = None
        self._set(screen=Screen.CASES, notice=None, form_problems=(), cases=tuple(self._cases.cases()),
                  last_case=result.case_id, outcome=None)

    def show_cases(self) -> None:
        """The list of this kiosk's cases and their status."""
        if self.state.screen is Screen.READY and self._cases is not None:
            self._set(screen=Screen.CASES, cases=tuple(self._cases.cases()), last_case=None, notice=None,
                      decided_unseen=0)

    def cases_changed(self) -> None:
        """The courier delivered a case or recorded a decision: refresh, and tell staff of a new decision."""
        if self._cases is None:
            return
        cases = tuple(self._cases.cases())
        newly = sum(1 for c in cases if c.status is CaseStatus.DECIDED) - \
            sum(1 for c in self.state.cases if c.status is CaseStatus.DECIDED)
        if newly <= 0 or self.state.screen is Screen.SIGN_IN:
            self._set(touch=False, cases=cases)
            return
        unseen = 0 if self.state.screen is Screen.CASES else self.state.decided_unseen + newly
        self._set(touch=False, cases=cases, decided_unseen=unseen, notice=Notice.DECISION_ARRIVED)

    def withdraw_case(self, case_id: str) -> None:
        """The person left: withdraw an undecided case (the console is told)."""
        if self.state.screen is Screen.CASES and self._cases is not None:
            withdrawn = self._cases.cancel_case(case_id, "withdrawn by branch staff")
            self._set(cases=tuple(self._cases.cases()), notice=Notice.CASE_WITHDRAWN if withdrawn else None)

    def check_in_case(self, case_id: str) -> None:
        """An approved case: show the registry's verdict on the person it names before anything is recorded."""
        if self.state.screen is not Screen.CASES or self._cases is None:
            return
        try:
            check = self._cases.approval(case_id)
        except OSError:
            self._set(notice=Notice.NOT_RECORDED)
            return
        if isinstance(check, NotApproved):
            self._set(notice=Notice.APPROVAL_USED, cases=tuple(self._cases.cases()))
            return
        # A head signed in here gives a reason; anyone else is told the head must enter their PIN.
        ask = check.needs_head and self.state.role is not Role.HEAD
        self._set(screen=Screen.APPROVAL, approval=check, notice=Notice.HEAD_CONFIRMATION if ask else None)

    def confirm_approval(self, reason: str = "", pin: str = "", head: str = "") -> None:
        """Record the approval on screen; Done only once it is durable.

        A verdict that would stop an ordinary check-in (kiosk.core.approval) needs the branch head: signed
        in on this kiosk, or entering their PIN here (`head` names the account, by default the first head),
        and a reason. A poll worker alone cannot record it.
        """
        check, cases = self.state.approval, self._cases
        if self.state.screen is not Screen.APPROVAL or check is None or cases is None:
            return
        confirmation = None
        if check.needs_head:
            if not head_reason_ok(reason):
                self._set(notice=Notice.APPROVAL_REASON)
                return
            account = self._head_confirms(pin, head)
            if account is None:
                return
            confirmation = HeadConfirmation(account, reason.strip(), check)
        try:
            result = cases.check_in_approved(check.case_id, confirmation, account=self.state.account or "")
        except OSError:
            self._set(notice=Notice.NOT_RECORDED)
            return
        match result:
            case Recorded():
                self._set(screen=Screen.DONE, receipt=result, outcome=None, notice=None, approval=None,
                          checkins=self.state.checkins + 1, done_at=self._now(), cases=tuple(cases.cases()))
            case ApprovalCheck():
                self._set(approval=result, notice=Notice.APPROVAL_CHANGED)
            case AlreadyCheckedIn():
                # Checked in meanwhile (branch sync), or the undo was not accepted here: show what stands now.
                again = cases.approval(check.case_id)
                if isinstance(again, ApprovalCheck):
                    self._set(approval=again, notice=Notice.APPROVAL_CHANGED)
                else:
                    self._set(screen=Screen.CASES, approval=None, notice=Notice.APPROVAL_USED,
                              cases=tuple(cases.cases()))
            case NotApproved():
                self._set(screen=Screen.CASES, approval=None, notice=Notice.APPROVAL_USED, cases=tuple(cases.cases()))
            case _ as unreachable:
                assert_never(unreachable)

    def _head_confirms(self, pin: str, head: str) -> str | None:
        """The head's account if the head is signed in or `pin` is the head's; otherwise None, with a notice."""
        if self.state.role is Role.HEAD and self.state.account is not None:
            return self.state.account
        heads = [account for account, _, role in self._staff.accounts() if role is Role.HEAD]
        account = head or (heads[0] if heads else "")
        if account not in heads or not pin:
            self._set(notice=Notice.HEAD_ONLY if account not in heads else Notice.HEAD_CONFIRMATION)
            return None
        result = self._staff.sign_in(account, pin)  # a wrong PIN counts towards the head's lock-out
        match result:
            case Granted() if result.role is Role.HEAD:
                return result.account
            case Granted():
                self._set(notice=Notice.HEAD_ONLY)
            case WrongPin():
                notice = Notice.LOCKED_OUT if result.locked_for > 0 else Notice.WRONG_PIN
                self._set(notice=notice, notice_detail=result.locked_for if result.locked_for > 0
                          else float(result.tries_left))
            case Locked():
                self._set(notice=Notice.LOCKED_OUT, notice_detail=result.seconds)
            case NoSuchAccount():
                self._set(notice=Notice.UNKNOWN_ACCOUNT)
            case _ as unreachable:
                assert_never(unreachable)
        return None

    # -- double check-ins ----------------------------------------------------------------
    def duplicates_changed(self) -> None:
        """Branch sync stored events: re-read the double check-ins, and tell staff of a new one where they are."""
        duplicates = self._read_duplicates()
        known = {(d.voter, d.check_ins) for d in self.state.duplicates}
        new = any((d.voter, d.check_ins) not in known for d in duplicates)
        # Not staff's doing: the idle timer keeps running, and the screen stays where staff are.
        if new and self.state.screen is not Screen.SIGN_IN:  # locked: the notice waits for the sign-in
            self._set(touch=False, duplicates=duplicates, notice=Notice.DUPLICATE_CHECK_IN)
        elif not duplicates and self.state.notice is Notice.DUPLICATE_CHECK_IN:
            self._set(touch=False, duplicates=duplicates, notice=None)
        else:
            self._set(touch=False, duplicates=duplicates)

    def show_duplicates(self) -> None:
        """The list of double check-ins, for staff to acknowledge each one."""
        if self.state.screen is not Screen.READY or self._duplicates is None:
            return
        duplicates = self._read_duplicates()
        if duplicates:
            self._set(screen=Screen.DUPLICATES, duplicates=duplicates, notice=None)
        else:
            self._set(duplicates=duplicates)

    def acknowledge_duplicate(self, index: int) -> None:
        """Staff saw the double check-in at `index` of the list on screen: record it with their account."""
        state = self.state
        if state.screen is not Screen.DUPLICATES or self._duplicates is None or state.account is None:
            return
        if not 0 <= index < len(state.duplicates):
            return
        try:
            self._duplicates.acknowledge(state.duplicates[index], state.account)
        except OSError:
            self._set(notice=Notice.NOT_RECORDED)
            return
        duplicates = self._read_duplicates()
        if duplicates:
            self._set(duplicates=duplicates, notice=None)
        else:
            self._set(screen=Screen.READY, duplicates=duplicates, notice=None)

    # -- hardware events ---------------------------------------------------------------
    def card_removed(self) -> None:
        """The card left the reader; a verdict from a card stays, but staff are told."""
        if self.state.screen is Screen.VERDICT:
            self._set(notice=Notice.CARD_REMOVED)

    def card_unreadable(self) -> None:
        """The driver could not read the card."""
        if self.state.screen in (Screen.READY, Screen.VERDICT):
            self._set(notice=Notice.CARD_UNREADABLE)

    def scan_unusable(self) -> None:
        """The scanner read something that is not a national code."""
        if self.state.screen in (Screen.READY, Screen.VERDICT, Screen.DONE):
            self._set(notice=Notice.SCAN_UNUSABLE)

    def reader_unplugged(self) -> None:
        """The reader is gone; typing and scanning still work."""
        self._set(notice=Notice.READER_UNPLUGGED)

    def tick(self) -> None:
        """Called about once a second: Done returns to Ready, and an idle kiosk locks itself."""
        now, state = self._now(), self.state
        if state.screen is not Screen.SIGN_IN and now - state.last_activity >= self._idle:
            self.lock()
        elif state.screen is Screen.DONE and now - state.done_at >= self._done:
            self._set(screen=Screen.READY, receipt=None, outcome=None, touch=False)

    def show_help(self) -> None:
        """The help screen, from Ready; back goes to Ready."""
        if self.state.screen is Screen.READY:
            self._set(screen=Screen.HELP, notice=None)

    def show_staff(self) -> None:
        """The branch head's list of accounts, where poll workers are added."""
        if self.state.screen is Screen.READY and self.require_head():
            self._set(screen=Screen.STAFF, notice=None, accounts=tuple(self._staff.accounts()))

    def add_worker(self, name: str, pin: str) -> None:
        """The branch head adds a poll worker with their own PIN."""
        if self.state.screen is not Screen.STAFF or not self.require_head() or not name.strip():
            return
        taken = {account for account, _, _ in self._staff.accounts()}
        account = next(f"w{n}" for n in range(1, len(taken) + 2) if f"w{n}" not in taken)
        try:
            self._staff.set_pin(account, name.strip(), Role.WORKER, pin)
        except ValueError:
            self._set(notice=Notice.PIN_REFUSED)
            return
        self._set(notice=Notice.WORKER_ADDED, accounts=tuple(self._staff.accounts()))

    def reset_lockout(self, account: str) -> None:
        """The branch head clears a worker's lock-out."""
        if self.state.screen is Screen.STAFF and self.require_head():
            self._staff.reset_lockout(account)

    # -- today's summary ---------------------------------------------------------------
    def show_summary(self) -> None:
        """The branch head's figures of the day, from the staff screen; anyone else is told it is the head's."""
        if self.state.screen not in (Screen.READY, Screen.STAFF) or self._summary is None:
            return
        if self.require_head():
            self._set(screen=Screen.SUMMARY, summary=self._summary.today(), notice=None)

    def print_summary(self) -> None:
        """Print the figures, read afresh (so paper and screen agree), on the receipt printer if there is one."""
        state = self.state
        if state.screen is not Screen.SUMMARY or self._summary is None or state.printing or not self.require_head():
            return
        summary = self._summary.today()
        if self._printer is None:
            self._set(summary=summary, notice=Notice.NO_PRINTER)
            return
        self._set(summary=summary, notice=Notice.PRINTING, printing=True)
        self._printer.print_summary(summary, self.summary_printed, state.account or "")

    def summary_printed(self, result: Printed) -> None:
        """The printer finished the summary (or could not): say how, if the head is still on the summary."""
        if self.state.screen is Screen.SUMMARY:
            self._set(touch=False, printing=False, notice=print_notice(result))
        else:
            self._set(touch=False, printing=False)

    def require_head(self) -> bool:
        """True for the branch head; otherwise shows "only the branch head" and returns False."""
        if self.state.role is Role.HEAD:
            return True
        self._set(notice=Notice.HEAD_ONLY)
        return False

    # -- inside ------------------------------------------------------------------------
    def _read_duplicates(self) -> tuple[Duplicate, ...]:
        return tuple(self._duplicates.duplicates()) if self._duplicates is not None else ()

    def _ready_for_person(self) -> bool:
        return self.state.screen in (Screen.READY, Screen.DONE)

    def done_left(self) -> float:
        """Seconds before Done goes back to Ready on its own (0 when not on Done)."""
        if self.state.screen is not Screen.DONE:
            return 0.0
        return max(self._done - (self._now() - self.state.done_at), 0.0)

    def correction_dropped(self) -> None:
        """Staff cleared the box: the verdict of the code that was in it no longer stands above it."""
        if self.state.screen is Screen.READY and self.state.correcting:
            self._set(outcome=None, correcting="")

    def _show(self, outcome: Outcome, code: str) -> None:
        self._code = code if outcome.verdict is Verdict.ELIGIBLE else None
        self._set(screen=Screen.VERDICT, outcome=outcome, receipt=None, notice=None, correcting="")

    def _set(self, touch: bool = True, **changes: object) -> None:
        if "screen" in changes and "correcting" not in changes:
            changes["correcting"] = ""      # any move to another screen leaves the correction behind
        if touch:
            changes["last_activity"] = self._now()
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        for listener in list(self._listeners):
            listener(self.state)
