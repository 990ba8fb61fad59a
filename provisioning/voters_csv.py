"""Checking each row of the civil-registry extract; every refusal has a line number and a reason."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.jalali import JalaliDate, parse_jalali
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.core.voter import CivilStatus, Gender, VoterRecord

HEADER = ("national_code", "first_name", "last_name", "father_name", "birth_date", "gender", "status")
MAX_NAME = 64
# Control characters (our record separator among them) have no place in a name.
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
_GENDERS = {g.value: g for g in Gender}
_STATUSES = {s.value: s for s in CivilStatus}


class RowProblem(Enum):
    """Why a row of the extract was rejected."""

    FIELD_COUNT = "wrong number of fields"
    INVALID_CODE = "invalid national code"
    BAD_NAME = "empty, overlong or malformed name"
    BAD_BIRTH_DATE = "birth date is not a Jalali YYYY/MM/DD date"
    BORN_AFTER_ELECTION = "birth date after the election day"
    BAD_GENDER = "gender is not male or female"
    BAD_STATUS = "status is not alive, deceased or suspended"
    DUPLICATE_CODE = "national code appears more than once"
    BAD_ENCODING = "line is not valid UTF-8 CSV"


@dataclass(frozen=True, slots=True)
class Rejected:
    """One rejected line of the extract."""

    line: int
    problem: RowProblem


def check_header(fields: list[str]) -> bool:
    """True when the header is exactly the documented one (a BOM is tolerated)."""
    if fields:
        fields = [fields[0].lstrip("\ufeff"), *fields[1:]]
    return tuple(f.strip() for f in fields) == HEADER


def check_row(fields: list[str], election_day: JalaliDate) -> tuple[str, VoterRecord] | RowProblem:
    """The canonical code and record of a good row, or the first problem found."""
    if len(fields) != 7:
        return RowProblem.FIELD_COUNT
    raw_code, first, last, father, born, gender, status = fields
    code = parse_national_code(raw_code)
    if isinstance(code, InvalidCode):
        return RowProblem.INVALID_CODE
    first, last, father = first.strip(), last.strip(), father.strip()
    if not (_good_name(first) and _good_name(last) and _good_name(father)):
        return RowProblem.BAD_NAME
    birth = parse_jalali(born)
    if birth is None:
        return RowProblem.BAD_BIRTH_DATE
    if birth > election_day:
        return RowProblem.BORN_AFTER_ELECTION
    g = _GENDERS.get(gender.strip())
    if g is None:
        return RowProblem.BAD_GENDER
    s = _STATUSES.get(status.strip())
    if s is None:
        return RowProblem.BAD_STATUS
    return code, VoterRecord(first, last, father, birth, g, s)


def _good_name(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and not _BAD_NAME.search(name)

