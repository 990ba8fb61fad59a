"""The check-in desk: what the kiosk does with one typed, scanned or read national code.

Joins the core's rules with the registry and the ledger; the UI and the CLI
both call this and nothing below it.
"""
from __future__ import annotations

from collections.abc import Callable

from kiosk.core.cases import Case, CaseForm, CaseReason, Decision, FormProblem, NotApproved, Ruling, check_form
from kiosk.core.eligibility import ElectionRules, Verdict, eligible_from, final_verdict
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.core.outcome import AlreadyCheckedIn, CheckedIn, Outcome, Recorded
from kiosk.logbook import Event, log
from kiosk.store.ledger import Ledger
from kiosk.store.outbox import CaseOutbox
from kiosk.store.registry import Registry


class Desk:
    """Verdicts and check-ins against one registry and one ledger."""

    def __init__(self, registry: Registry, ledger: Ledger, rules: ElectionRules,
                 on_record: Callable[[], None] | None = None) -> None:
        self._registry = registry
        self._ledger = ledger
        self._rules = rules
        self._recorded = on_record or (lambda: None)  # branch sync pushes the new event at once

    def check(self, raw: str) -> Outcome:
        """The verdict for a typed or scanned code, consulting the registry and the ledger."""
        code = parse_national_code(raw)
        if isinstance(code, InvalidCode):
            return Outcome(Verdict.INVALID_CODE, problem=code.problem)
        key = self._registry.voter_key(code)
        record = self._registry.lookup(code)
        previous = self._ledger.live_check_in(key)
        verdict = final_verdict(record, self._rules, previous is not None)
        eligible_on = eligible_from(record, self._rules) if verdict is Verdict.UNDERAGE and record else None
        return Outcome(verdict, record, eligible_on, previous if verdict is Verdict.ALREADY_VOTED else None,
                       voter_key=key)

    def check_card(self, national_code: str, certificate_trusted: bool) -> Outcome:
        """The verdict for a card read: a certificate that does not chain to the anchors settles it."""
        if not certificate_trusted:
            return Outcome(Verdict.CARD_NOT_TRUSTED)
        return self.check(national_code)

    def check_in(self, raw: str, ref: str = "") -> CheckedIn | Outcome:
        """Record an eligible voter durably; any other verdict comes back unchanged."""
        outcome = self.check(raw)
        if outcome.verdict is not Verdict.ELIGIBLE or outcome.voter_key is None:
            return outcome
        result = self._ledger.check_in(outcome.voter_key, ref)
        if isinstance(result, AlreadyCheckedIn):
            # Another process checked the voter in between our look and our write.
            return Outcome(Verdict.ALREADY_VOTED, outcome.record, previous=result, voter_key=outcome.voter_key)
        log(Event.CHECKED_IN, seq=result.seq)
        self._recorded()
        return CheckedIn(outcome, result)


def approved_voter(index_of: Callable[[str], bytes], decision: Decision) -> bytes:
    """The keyed hash an approval is recorded under: the confirmed code, or the civil-registration reference."""
    if decision.ruling is not Ruling.APPROVE:
        return b""
    return index_of(decision.national_code) if decision.national_code else index_of(f"ref:{decision.reference}")


class CaseDesk:
    """Cases for the representative: the form is checked against the election before it is kept."""

    def __init__(self, outbox: CaseOutbox, rules: ElectionRules, ledger: Ledger | None = None,
                 registry: Registry | None = None, on_change: Callable[[], None] | None = None) -> None:
        self._outbox = outbox
        self._rules = rules
        self._ledger = ledger
        self._registry = registry
        self._changed = on_change or (lambda: None)  # the courier sends at once rather than at its next round

    def raise_case(self, form: CaseForm) -> Case | list[FormProblem]:
        """Keep the case durably, or say what is wrong with the form."""
        problems = check_form(form, self._rules.day)
        if problems:
            return problems
        case = self._outbox.raise_case(form)
        log(Event.CASE_RAISED, case=case.case_id, reason=form.reason.value)
        self._changed()
        return case

    def cases(self) -> list[Case]:
        """Every case of this kiosk, oldest first."""
        return self._outbox.cases()

    def cancel_case(self, case_id: str, reason: str) -> Case | None:
        """Withdraw an undecided case (the person left); None if it is already decided."""
        case = self._outbox.cancel(case_id, reason)
        if case is not None:
            log(Event.CASE_CANCELLED, case=case_id)
            self._changed()
        return case

    def check_in_approved(self, case_id: str) -> Recorded | AlreadyCheckedIn | NotApproved:
        """Check in the person the representative approved, with the case as the reference, once.

        An approval of a disputed "already voted" undoes the earlier check-in in the
        same transaction: the representative ruled it was not this person's.
        """
        assert self._ledger is not None and self._registry is not None, "CaseDesk built without a ledger"
        case = self._outbox.case(case_id)
        if case is None or case.decision is None or case.decision.ruling is not Ruling.APPROVE:
            return NotApproved("the case is not approved")
        if case.check_in:
            return NotApproved("the approval was already used")
        voter = approved_voter(self._registry.voter_key, case.decision)
        supersede = f"representative approved {case_id}" if case.form.reason is CaseReason.DISPUTED else ""
        result = self._ledger.check_in(voter, ref=case_id, supersede=supersede)
        if isinstance(result, Recorded):
            self._outbox.mark_checked_in(case_id, f"{self._ledger.device_id}:{result.seq}")
            log(Event.CHECKED_IN, seq=result.seq, case=case_id)
            self._changed()
        return result
