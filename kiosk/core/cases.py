"""Cases for the governor's representative: the form staff fill, its checks, and a case's life."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.jalali import JalaliDate
from kiosk.core.national_code import ascii_digits_only, is_valid_national_code
# The wire's limits (kiosk.net.messages decodes by them), re-exported where the case form's checks live.
from kiosk.core.text_limits import MAX_NAME as MAX_NAME, MAX_NOTE as MAX_NOTE, MAX_REASON as MAX_REASON
from kiosk.core.text_limits import MAX_REFERENCE as MAX_REFERENCE, text_problem

# "device:seq" of one check-in: a device id and a ledger sequence number (branch sync bounds it by 2**40).
CHECK_IN_REF = re.compile(r"^[0-9a-f]{16}:[1-9][0-9]{0,12}$")


class CaseReason(Enum):
    """Why the kiosk could not settle the person itself (DESIGN: Flows, Escalation)."""

    NO_CODE = "no_code"
    NOT_FOUND = "not_found"
    CARD_UNREADABLE = "card_unreadable"
    CARD_NOT_TRUSTED = "card_not_trusted"
    DISPUTED = "disputed"           # a disputed already_voted


class CaseStatus(Enum):
    """Where a case stands on the kiosk."""

    WAITING = "waiting"         # durable here; no console has acknowledged it yet
    DELIVERED = "delivered"     # a console has it; the representative has not decided yet
    DECIDED = "decided"         # the signed decision is recorded
    CANCELLED = "cancelled"     # staff withdrew it (the person left) before a decision


class Ruling(Enum):
    """What the representative decides (GLOSSARY: تأیید / رد / ارجاع به ثبت احوال)."""

    APPROVE = "approve"
    REJECT = "reject"
    REFER = "refer"


class DecisionProblem(Enum):
    """What is wrong with a decision the representative is about to sign."""

    CODE = "code"                       # a national code was given and it is not valid
    CODE_OR_REFERENCE = "code_or_reference"   # an approval names neither a code nor a reference
    REFERENCE = "reference"
    REASON = "reason"
    CASE_CLOSED = "case_closed"         # the case was withdrawn or decided meanwhile: nothing was signed
    CARD = "card"                       # the representative's card did not sign (taken out, or refused)


class FormProblem(Enum):
    """What is wrong with a form; shown next to the field."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    FATHER_NAME = "father_name"
    BIRTH_DATE = "birth_date"
    BIRTH_CERTIFICATE = "birth_certificate"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class CaseForm:
    """What staff write down about the person."""

    first_name: str
    last_name: str
    father_name: str
    birth_date: JalaliDate | None
    birth_certificate: str
    note: str
    reason: CaseReason
    disputed: str = ""      # a disputed "already voted": "device:seq" of the check-in the person disputes


@dataclass(frozen=True, slots=True)
class Decision:
    """The representative's decision on one case, as the console signs it."""

    case_id: str
    kiosk: str              # device id of the kiosk that raised the case
    ruling: Ruling
    national_code: str      # the confirmed code of an approval, or ""
    reference: str          # a civil-registration reference, or ""
    reason: str             # why; required for a rejection
    decided_at: str         # the console's wall time, UTC ISO
    rep: str                # device id of the console


@dataclass(frozen=True, slots=True)
class UndoAuthorization:
    """The representative's signed word that one check-in ("device:seq") was not this person's."""

    target: str
    signature: bytes        # kiosk.trust.decisions.sign_undo by the console that decided


@dataclass(frozen=True, slots=True)
class CardEndorsement:
    """The representative's card's signature over a decision, and the card certificate (DER) it was made with."""

    certificate: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Case:
    """A raised case, durable on this kiosk."""

    case_id: str
    form: CaseForm
    created: str
    status: CaseStatus
    decision: Decision | None = None
    check_in: str = ""      # "device:seq" of the check-in this case's approval allowed
    undo: UndoAuthorization | None = None   # with an approved disputed case: the check-in it undoes


@dataclass(frozen=True, slots=True)
class NotApproved:
    """A check-in by case refused: the case is not an approval, or its approval was already used."""

    reason: str


_REFERENCE = re.compile(r"^[0-9A-Za-z/\-]{1,32}$")
CASE_ID = re.compile(r"^E-[0-9A-F]{6}-[0-9]{4,9}$")


OLDEST = 120      # years: the list of years the form offered went back as far


def check_form(form: CaseForm, election_day: JalaliDate) -> list[FormProblem]:
    """Every problem with the form; an empty list means it can be raised."""
    problems = []
    for value, problem in ((form.first_name, FormProblem.FIRST_NAME), (form.last_name, FormProblem.LAST_NAME),
                           (form.father_name, FormProblem.FATHER_NAME)):
        if text_problem(value.strip(), MAX_NAME, required=True) is not None:   # kept stripped, sent as kept
            problems.append(problem)
    # A typed year (not a list any more) may slip: no one alive was born more than OLDEST years ago.
    if form.birth_date is None or form.birth_date > election_day or \
            form.birth_date.year < election_day.year - OLDEST:
        problems.append(FormProblem.BIRTH_DATE)
    certificate = ascii_digits_only(form.birth_certificate.strip())
    if certificate and not (certificate.isascii() and certificate.isdigit() and len(certificate) <= 10):
        problems.append(FormProblem.BIRTH_CERTIFICATE)
    if text_problem(form.note.strip(), MAX_NOTE, newlines=True) is not None:
        problems.append(FormProblem.NOTE)
    return problems


def check_decision(ruling: Ruling, national_code: str, reference: str, reason: str) -> list[DecisionProblem]:
    """Every problem with a decision; an approval names the person by code or civil-registration reference."""
    problems = []
    if national_code and not is_valid_national_code(national_code):
        problems.append(DecisionProblem.CODE)
    if reference and not _REFERENCE.match(ascii_digits_only(reference)):
        problems.append(DecisionProblem.REFERENCE)
    if ruling is Ruling.APPROVE and not (national_code or reference):
        problems.append(DecisionProblem.CODE_OR_REFERENCE)
    if text_problem(reason, MAX_REASON, required=ruling is Ruling.REJECT) is not None:
        problems.append(DecisionProblem.REASON)
    return problems



def decision_fields(d: Decision) -> dict[str, str]:
    """A decision as flat text fields: what is signed, sent and stored."""
    return {"case_id": d.case_id, "kiosk": d.kiosk, "ruling": d.ruling.value, "national_code": d.national_code,
            "reference": d.reference, "reason": d.reason, "decided_at": d.decided_at, "rep": d.rep}


def decision_from_fields(d: dict[str, str]) -> Decision:
    """The decision stored by `decision_fields` (trusted storage; the network decodes strictly instead)."""
    return Decision(d["case_id"], d["kiosk"], Ruling(d["ruling"]), d["national_code"], d["reference"],
                    d["reason"], d["decided_at"], d["rep"])
