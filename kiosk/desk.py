"""The check-in desk: what the kiosk does with one typed, scanned or read national code.

Joins the core's rules with the registry and the ledger; the UI and the CLI
both call this and nothing below it.
"""
from __future__ import annotations

from collections.abc import Callable

from kiosk.core.approval import ApprovalCheck, HeadConfirmation, head_note, head_reason_ok
from kiosk.core.cases import Case, CaseForm, Decision, FormProblem, NotApproved, Ruling, check_form
from kiosk.core.eligibility import ElectionRules, Verdict, eligible_from, final_verdict
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.core.outcome import AlreadyCheckedIn, CheckedIn, Outcome, Recorded
from kiosk.logbook import Event, log
from kiosk.store.ledger import Ledger, Supersede
from kiosk.store.outbox import CaseOutbox
from kiosk.store.registry import Registry
from kiosk.trust.decisions import undo_reason


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

    def check_in(self, raw: str, ref: str = "", account: str = "") -> CheckedIn | Outcome:
        """Record an eligible voter durably, with the signed-in staff account; any other verdict comes back."""
        outcome = self.check(raw)
        if outcome.verdict is not Verdict.ELIGIBLE or outcome.voter_key is None:
            return outcome
        result = self._ledger.check_in(outcome.voter_key, ref, account=account)
        if isinstance(result, AlreadyCheckedIn):
            # Another process checked the voter in between our look and our write.
            return Outcome(Verdict.ALREADY_VOTED, outcome.record, previous=result, voter_key=outcome.voter_key)
        log(Event.CHECKED_IN, seq=result.seq, account=account)
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
        self._undo_refused: set[str] = set()  # cases whose undo authorization this kiosk's ledger did not accept

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

    def approval(self, case_id: str) -> ApprovalCheck | NotApproved:
        """What the registry and the ledger say about the person an approval names, before it is recorded.

        The representative's authorization (a disputed "already voted") takes the disputed check-in out of
        the verdict only when it is that check-in which is live, and only while this kiosk's ledger accepts it.
        """
        assert self._ledger is not None and self._registry is not None, "CaseDesk built without a ledger"
        case = self._outbox.case(case_id)
        if case is None or case.decision is None or case.decision.ruling is not Ruling.APPROVE:
            return NotApproved("the case is not approved")
        if case.check_in:
            return NotApproved("the approval was already used")
        decision = case.decision
        voter = approved_voter(self._registry.voter_key, decision)
        record = self._registry.lookup(decision.national_code) if decision.national_code else None
        live = self._ledger.live_check_ins(voter)
        supersedes = ""
        # The ledger supersedes only when the disputed check-in is the voter's one live check-in.
        if case.undo is not None and case_id not in self._undo_refused and \
                [f"{c.device}:{c.seq}" for c in live] == [case.undo.target]:
            supersedes, live = case.undo.target, []
        verdict = final_verdict(record, self._rules, bool(live))
        eligible_on = eligible_from(record, self._rules) if verdict is Verdict.UNDERAGE and record else None
        outcome = Outcome(verdict, record, eligible_on, live[0] if live else None)
        return ApprovalCheck(case_id, outcome, case.form, not decision.national_code, supersedes)

    def check_in_approved(self, case_id: str, head: HeadConfirmation | None = None, account: str = ""
                          ) -> Recorded | AlreadyCheckedIn | NotApproved | ApprovalCheck:
        """Check in the person the representative approved, with the case as the reference, once.

        An approval the registry or the ledger speaks against (kiosk.core.approval) is recorded only with
        the branch head's confirmation of exactly the check as it stands now, kept with its reason as the
        check-in's reason (kiosk.core.approval.head_note); otherwise the current check comes back and
        nothing is written. A live check-in then stands beside the new one as a double check-in.
        Confirming who the head is stays the caller's job (the flow checks the head's PIN).

        An approval of a disputed "already voted" undoes exactly the disputed check-in in the same
        transaction, with the representative's signed authorization as the undo's reason: the ledger
        accepts it only if it verifies with the console's key from the roster, and otherwise writes nothing.
        """
        assert self._ledger is not None and self._registry is not None, "CaseDesk built without a ledger"
        check = self.approval(case_id)
        if isinstance(check, NotApproved):
            return check
        if check.needs_head and (head is None or head.check != check or not head_reason_ok(head.reason)):
            return check
        case = self._outbox.case(case_id)
        assert case is not None and case.decision is not None  # approval() found it approved
        voter = approved_voter(self._registry.voter_key, case.decision)
        supersede = None
        if check.supersedes and case.undo is not None:
            supersede = Supersede(check.supersedes, undo_reason(case_id, case.decision.rep, case.undo.signature))
        note = head_note(head) if check.needs_head and head is not None else ""
        # The head confirmed over a live check-in: both stand, and show as a double check-in.
        device = self._ledger.device_id
        # The check-in and the approval's "used" mark commit together: a power cut cannot leave it usable twice.
        result = self._ledger.check_in(voter, ref=case_id, supersede=supersede, note=note,
                                       allow_double=bool(note) and check.outcome.previous is not None,
                                       then=lambda e: self._outbox.mark_checked_in(case_id, f"{device}:{e.seq}"),
                                       account=account)
        if isinstance(result, AlreadyCheckedIn):
            if supersede is not None and f"{result.device}:{result.seq}" == supersede.target:
                self._undo_refused.add(case_id)   # the authorization does not verify here: show the verdict
                log(Event.DECISION_REFUSED, case=case_id, reason="undo authorization not accepted by the ledger")
            return result
        if supersede is not None:
            log(Event.CHECK_IN_UNDONE, case=case_id, account=account)
        log(Event.CHECKED_IN, seq=result.seq, case=case_id, **({"over": check.outcome.verdict.value}
                                                               if check.needs_head else {}))
        self._changed()
        return result
