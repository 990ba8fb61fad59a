"""An approved case before it is recorded: the registry's verdict on the person, and when the head must confirm.

The representative decides on what staff wrote and what they were told; the
registry and the ledger may know more (the approved code is of a deceased
person, or already checked in). Staff see that verdict before the check-in,
and a verdict that would stop an ordinary check-in needs the branch head's
explicit confirmation with a reason, which the check-in event keeps.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.core.cases import CaseForm
from kiosk.core.eligibility import Verdict
from kiosk.core.outcome import Outcome

MAX_HEAD_REASON = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A not_found verdict is what most approvals are about (a person missing from the extract, or known to
# civil registration by reference only): the representative settled exactly that, so it needs no second word.
NEEDS_HEAD = frozenset({Verdict.DECEASED, Verdict.SUSPENDED, Verdict.UNDERAGE, Verdict.ALREADY_VOTED})


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    """What the registry and the ledger say about the person an approval names, shown before recording."""

    case_id: str
    outcome: Outcome        # the verdict for the approved code (not_found for a reference), ledger included
    form: CaseForm          # what staff wrote about the person, for an approval by reference
    by_reference: bool      # approved by a civil-registration reference rather than a national code
    supersedes: str = ""    # "device:seq" the representative's authorization undoes ("" if none applies)

    @property
    def needs_head(self) -> bool:
        """Recording this approval overrides the registry or the ledger: only the branch head may confirm."""
        return self.outcome.verdict in NEEDS_HEAD


@dataclass(frozen=True, slots=True)
class HeadConfirmation:
    """The branch head's explicit word: record this approval despite exactly the check shown, for this reason."""

    account: str            # the head's staff account (signed in, or who entered their PIN on this kiosk)
    reason: str
    check: ApprovalCheck    # what the head saw; if the registry or the ledger says otherwise now, it does not hold


def head_reason_ok(reason: str) -> bool:
    """A reason the head can give: some text, one line, bounded (it goes into the ledger and the export)."""
    return bool(reason.strip()) and len(reason.strip()) <= MAX_HEAD_REASON and not _CONTROL.search(reason)


def head_note(confirmation: HeadConfirmation) -> str:
    """The check-in event's reason when the branch head confirmed an approval over the registry or the ledger."""
    outcome = confirmation.check.outcome
    beside = f" beside {outcome.previous.device}:{outcome.previous.seq}" if outcome.previous else ""
    return (f"approved over {outcome.verdict.value}{beside}; confirmed by branch head "
            f"{confirmation.account[:32]}: {confirmation.reason.strip()[:MAX_HEAD_REASON]}")
