"""The representative's console as the core sees it: cases received, kiosks seen, and the book's port."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from kiosk.core.cases import CaseForm, Decision, DecisionProblem, Ruling


class RepCaseStatus(Enum):
    """Where a case stands on the console."""

    OPEN = "open"               # waiting for the representative
    DECIDED = "decided"         # decided and signed (delivered to the kiosk or on its way)
    CANCELLED = "cancelled"     # the kiosk withdrew it before a decision


@dataclass(frozen=True, slots=True)
class RepCase:
    """One case in the representative's book."""

    case_id: str
    kiosk: str              # device id of the kiosk that raised it
    branch: str
    form: CaseForm
    raised_at: str          # the kiosk's wall time, UTC ISO (a kiosk's clock may be off)
    received_at: str        # the console's wall time, UTC ISO: waiting time counts from here
    status: RepCaseStatus
    decision: Decision | None = None
    delivered: bool = False  # the kiosk acknowledged the decision


@dataclass(frozen=True, slots=True)
class KioskSeen:
    """A kiosk of the console's branches, as last heard from."""

    device: str
    branch: str
    online: bool
    last_seen: str          # console's wall time, UTC ISO; "" if never
    checkins_today: int
    open_cases: int
    skew_ms: int            # the kiosk's clock minus the console's, at its last status
    duplicates: int = 0     # double check-ins the kiosk holds that its staff have not acknowledged yet
    anomalies: int = 0      # records the kiosk holds that the rules refuse to count (a rogue device's doing)
    asks_unlock: bool = False   # locked, and asking the representative to unlock it for the day


class UnlockGrant(Enum):
    """What came of the representative's confirming a kiosk's request to be unlocked."""

    SENT = "sent"               # the share went to the kiosk over its link
    NOT_ASKING = "not_asking"   # the kiosk is not (or no longer) linked and asking
    CANNOT = "cannot"           # this console cannot unlock it (locked itself, or not its kiosk)


class CaseBookPort(Protocol):
    """What the console's screens ask of the case book (kiosk.rep.service.RepService)."""

    def open_cases(self) -> list[RepCase]:
        """Cases waiting for a decision, oldest first."""
        ...

    def recent_decided(self, limit: int = 20) -> list[RepCase]:
        """The latest decided or withdrawn cases, newest first."""
        ...

    def case(self, case_id: str) -> RepCase | None:
        """One case by id."""
        ...

    def decide(self, case_id: str, ruling: Ruling, national_code: str, reference: str,
               reason: str) -> RepCase | list[DecisionProblem]:
        """Sign and keep a decision durably, then send it to the kiosk; or the problems with it.

        [DecisionProblem.CASE_CLOSED] when the case is no longer open.
        """
        ...

    def kiosks(self) -> list[KioskSeen]:
        """Every kiosk heard from, by branch and device."""
        ...

    def grant_unlock(self, kiosk: str, account: str) -> UnlockGrant:
        """The signed-in representative `account` confirmed the kiosk's request: send it its day's unlock."""
        ...

    def deny_unlock(self, kiosk: str, account: str) -> bool:
        """The representative refused the kiosk's request; False if it was not asking."""
        ...

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Be told (on a network thread) whenever a case or a kiosk changes."""
        ...
