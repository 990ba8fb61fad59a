"""The ports the check-in flow (kiosk.core.flow) talks through: the desk, cases, staff, branch, printer.

Small protocols, so the flow runs the same over the real stores, in tests, and in a terminal.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Protocol

from kiosk.core.approval import ApprovalCheck, HeadConfirmation
from kiosk.core.branch import Duplicate
from kiosk.core.cases import Case, CaseForm, FormProblem, NotApproved
from kiosk.core.closing import DaySummary
from kiosk.core.outcome import AlreadyCheckedIn, CheckedIn, Outcome, Recorded
from kiosk.core.staff import Role, SignIn


class Printed(Enum):
    """How a print job ended: the receipt printer's closed set of results (drivers.printer.PrintResult)."""

    PRINTED = "printed"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    ERROR = "error"


class DeskPort(Protocol):
    """The desk the flow asks about people (kiosk.desk.Desk)."""

    def check(self, raw: str) -> Outcome:
        """Verdict for a typed or scanned code."""
        ...

    def check_card(self, national_code: str, certificate_trusted: bool) -> Outcome:
        """Verdict for a card read."""
        ...

    def check_in(self, raw: str, ref: str = "", account: str = "") -> CheckedIn | Outcome:
        """Durable check-in of an eligible person by the signed-in `account`, or the verdict that prevents it."""
        ...


class CasePort(Protocol):
    """Cases for the representative (kiosk.desk.CaseDesk)."""

    def raise_case(self, form: CaseForm) -> Case | list[FormProblem]:
        """Keep a case durably, or the problems with its form."""
        ...

    def cases(self) -> list[Case]:
        """This kiosk's cases, oldest first."""
        ...

    def cancel_case(self, case_id: str, reason: str) -> Case | None:
        """Withdraw an undecided case; None if it is already decided."""
        ...

    def approval(self, case_id: str) -> ApprovalCheck | NotApproved:
        """The registry's verdict on the person an approval names, shown before recording."""
        ...

    def check_in_approved(self, case_id: str, head: HeadConfirmation | None = None, account: str = ""
                          ) -> Recorded | AlreadyCheckedIn | NotApproved | ApprovalCheck:
        """Check in the person an approval names; a check that needs the head comes back unless confirmed."""
        ...


class DuplicatePort(Protocol):
    """The branch's double check-ins as this kiosk holds them (kiosk.store.replica.Replica)."""

    def duplicates(self) -> list[Duplicate]:
        """Double check-ins staff have not acknowledged on this kiosk, oldest first."""
        ...

    def acknowledge(self, duplicate: Duplicate, account: str) -> object:
        """Record durably that staff saw it (a signed ledger event)."""
        ...


class SummaryPort(Protocol):
    """Today's figures as this kiosk holds them (kiosk.store.day.DayFigures)."""

    def today(self) -> DaySummary:
        """Read the figures now: the branch (every kiosk's events held here) and this kiosk alone."""
        ...


class PrintPort(Protocol):
    """The receipt printer, for the day's summary (kiosk.ui.app.PrinterWiring)."""

    def print_summary(self, summary: DaySummary, done: Callable[[Printed], None], account: str = "") -> None:
        """Start printing for the signed-in `account`; return at once; `done` gets the result on the flow's thread."""
        ...


class StaffPort(Protocol):
    """The staff accounts (kiosk.store.staff.StaffBook)."""

    def sign_in(self, account: str, pin: str) -> SignIn:
        """Check a PIN."""
        ...

    def accounts(self) -> list[tuple[str, str, Role]]:
        """(account, name, role) of every account."""
        ...

    def set_pin(self, account: str, name: str, role: Role, pin: str) -> None:
        """Create or replace an account; ValueError for a PIN that is not 6–8 digits or a name that is not one line."""
        ...

    def reset_lockout(self, account: str) -> None:
        """Clear an account's lock-out."""
        ...
