"""Cases for the governor's representative: the form staff fill, its checks, and a case's life."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.jalali import JalaliDate
from kiosk.core.national_code import ascii_digits_only

MAX_NAME = 64
MAX_NOTE = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CaseReason(Enum):
    """Why the kiosk could not settle the person itself (DESIGN: Flows, Escalation)."""

    NO_CODE = "no_code"
    NOT_FOUND = "not_found"
    CARD_UNREADABLE = "card_unreadable"
    CARD_NOT_TRUSTED = "card_not_trusted"
    DISPUTED = "disputed"           # a disputed already_voted


class CaseStatus(Enum):
    """Where a case stands; it stays WAITING until the representative's decision arrives."""

    WAITING = "waiting"


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


@dataclass(frozen=True, slots=True)
class Case:
    """A raised case, durable on this kiosk."""

    case_id: str
    form: CaseForm
    created: str
    status: CaseStatus


def check_form(form: CaseForm, election_day: JalaliDate) -> list[FormProblem]:
    """Every problem with the form; an empty list means it can be raised."""
    problems = []
    for value, problem in ((form.first_name, FormProblem.FIRST_NAME), (form.last_name, FormProblem.LAST_NAME),
                           (form.father_name, FormProblem.FATHER_NAME)):
        if not (0 < len(value.strip()) <= MAX_NAME) or _CONTROL.search(value):
            problems.append(problem)
    if form.birth_date is None or form.birth_date > election_day:
        problems.append(FormProblem.BIRTH_DATE)
    certificate = ascii_digits_only(form.birth_certificate.strip())
    if certificate and not (certificate.isascii() and certificate.isdigit() and len(certificate) <= 10):
        problems.append(FormProblem.BIRTH_CERTIFICATE)
    if len(form.note) > MAX_NOTE or _CONTROL.sub("", form.note.replace("\n", " ")) != form.note.replace("\n", " "):
        problems.append(FormProblem.NOTE)
    return problems
