"""The check-in desk: what the kiosk does with one typed, scanned or read national code.

Joins the core's rules with the registry and the ledger; the UI and the CLI
both call this and nothing below it.
"""
from __future__ import annotations

from kiosk.core.cases import Case, CaseForm, FormProblem, check_form
from kiosk.core.eligibility import ElectionRules, Verdict, eligible_from, final_verdict
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.core.outcome import AlreadyCheckedIn, CheckedIn, Outcome
from kiosk.logbook import Event, log
from kiosk.store.ledger import Ledger
from kiosk.store.outbox import CaseOutbox
from kiosk.store.registry import Registry


class Desk:
    """Verdicts and check-ins against one registry and one ledger."""

    def __init__(self, registry: Registry, ledger: Ledger, rules: ElectionRules) -> None:
        self._registry = registry
        self._ledger = ledger
        self._rules = rules

    def check(self, raw: str) -> Outcome:
        """The verdict for a typed or scanned code, consulting the registry and the ledger."""
        code = parse_national_code(raw)
        if isinstance(code, InvalidCode):
            return Outcome(Verdict.INVALID_CODE, problem=code.problem)
        key = self._registry.voter_key(code)
        record = self._registry.lookup(code)
        previous = self._ledger.live_check_in(key) if record is not None else None
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
        return CheckedIn(outcome, result)


class CaseDesk:
    """Cases for the representative: the form is checked against the election before it is kept."""

    def __init__(self, outbox: CaseOutbox, rules: ElectionRules) -> None:
        self._outbox = outbox
        self._rules = rules

    def raise_case(self, form: CaseForm) -> Case | list[FormProblem]:
        """Keep the case durably, or say what is wrong with the form."""
        problems = check_form(form, self._rules.day)
        if problems:
            return problems
        case = self._outbox.raise_case(form)
        log(Event.CASE_RAISED, case=case.case_id, reason=form.reason.value)
        return case

    def cases(self) -> list[Case]:
        """Every case of this kiosk, oldest first."""
        return self._outbox.cases()
