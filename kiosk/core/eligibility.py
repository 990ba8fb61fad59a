"""The verdict on one person at one election: the rules staff would otherwise apply by hand."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from kiosk.core.jalali import JalaliDate, date_of_age, full_years
from kiosk.core.voter import CivilStatus, VoterRecord


class Verdict(Enum):
    """Every answer the kiosk can give about a person; the set is closed."""

    ELIGIBLE = "eligible"
    ALREADY_VOTED = "already_voted"
    UNDERAGE = "underage"
    DECEASED = "deceased"
    SUSPENDED = "suspended"
    NOT_FOUND = "not_found"
    INVALID_CODE = "invalid_code"
    CARD_NOT_TRUSTED = "card_not_trusted"


@dataclass(frozen=True, slots=True)
class ElectionRules:
    """The two facts of an election that decide eligibility."""

    day: JalaliDate
    min_age: int = 18


def eligible_from(record: VoterRecord, rules: ElectionRules) -> JalaliDate:
    """The first day on which this person reaches the voting age."""
    return date_of_age(record.birth_date, rules.min_age)


def registry_verdict(record: VoterRecord | None, rules: ElectionRules) -> Verdict:
    """What the registry alone says, before the ledger is consulted.

    Death and suspension outrank age: a deceased minor is reported as deceased,
    which is what staff must act on.
    """
    if record is None:
        return Verdict.NOT_FOUND
    match record.status:
        case CivilStatus.DECEASED:
            return Verdict.DECEASED
        case CivilStatus.SUSPENDED:
            return Verdict.SUSPENDED
        case CivilStatus.ALIVE:
            pass
        case _ as unreachable:
            assert_never(unreachable)
    if full_years(record.birth_date, rules.day) < rules.min_age:
        return Verdict.UNDERAGE
    return Verdict.ELIGIBLE


def final_verdict(record: VoterRecord | None, rules: ElectionRules, already_voted: bool) -> Verdict:
    """The registry verdict, turned into `already_voted` when the ledger has a live check-in.

    A person the registry lacks can have one too: the representative approved them by case.
    """
    verdict = registry_verdict(record, rules)
    if verdict in (Verdict.ELIGIBLE, Verdict.NOT_FOUND) and already_voted:
        return Verdict.ALREADY_VOTED
    return verdict
