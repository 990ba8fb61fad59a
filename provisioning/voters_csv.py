"""Checking each row of the civil-registry extract; every refusal has a line number and a reason.

This runs once per row of extracts of up to 62 million rows, so the checker
caches what repeats (birth dates, their verdicts) and builds the record's
plaintext directly instead of going through a VoterRecord per row.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.eligibility import ElectionRules, Verdict, registry_verdict
from kiosk.core.jalali import parse_jalali
from kiosk.core.national_code import InvalidCode, parse_national_code
from kiosk.core.voter import CivilStatus, Gender, VoterRecord
from kiosk.store.registry import GENDER_CODE, STATUS_CODE, record_plaintext

HEADER = ("national_code", "first_name", "last_name", "father_name", "birth_date", "gender", "status")
MAX_NAME = 64
# Control characters (our record separator among them) and undecodable bytes
# (kept as surrogates by the reader) have no place in a name.
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_GENDERS = {g.value: GENDER_CODE[g] for g in Gender}
# The common row in one regular expression: unquoted, ASCII digits, names already trimmed.
# A line it accepts gets exactly the result the field-by-field path would give (a test
# checks the two agree); anything else takes the field-by-field path for its reason.
_NAME = r'([^,"\x00-\x1f\x7f\s\ud800-\udfff](?:[^,"\x00-\x1f\x7f\ud800-\udfff]{0,62}[^,"\x00-\x1f\x7f\s\ud800-\udfff])?)'
_FAST_ROW = re.compile(
    rf"([0-9]{{10}}),{_NAME},{_NAME},{_NAME},([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}}),(male|female),(alive|deceased|suspended)\r?"
).fullmatch
_STATUSES = {s.value: s for s in CivilStatus}


class RowProblem(Enum):
    """Why a row of the extract was rejected."""

    BAD_CSV = "broken CSV quoting (a field may not span lines)"
    FIELD_COUNT = "wrong number of fields"
    INVALID_CODE = "invalid national code"
    BAD_NAME = "empty, overlong or malformed name"
    BAD_BIRTH_DATE = "birth date is not a Jalali YYYY/MM/DD date"
    BORN_AFTER_ELECTION = "birth date after the election day"
    BAD_GENDER = "gender is not male or female"
    BAD_STATUS = "status is not alive, deceased or suspended"
    DUPLICATE_CODE = "national code appears more than once"


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


def split_line(line: str) -> list[str] | None:
    """The fields of one physical line; None for broken quoting.

    Most lines have no quotes and split on commas; a quoted line goes through
    the csv module. A field may not span lines: a registry name never holds a
    line break, and such a row is rejected with its line number.
    """
    if line.endswith("\r"):
        line = line[:-1]
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration):
        return None


class RowChecker:
    """Checks rows against one election's rules: (code, verdict, plaintext) or the problem."""

    def __init__(self, rules: ElectionRules) -> None:
        self._rules = rules
        # (birth-date text, status text) -> (YYYYMMDD, verdict, status code) or the problem.
        # Keys are plain strings: their hashes are cached, which matters at 62 million rows.
        self._facts: dict[tuple[str, str], tuple[str, Verdict, str] | RowProblem] = {}

    def check_line(self, line: str) -> tuple[str, Verdict, bytes] | RowProblem:
        """Check one physical line of the extract (without its newline)."""
        match = _FAST_ROW(line)
        if match is None:
            fields = split_line(line)
            return RowProblem.BAD_CSV if fields is None else self.check(fields)
        raw_code, first, last, father, born, gender, status = match.groups()
        code = parse_national_code(raw_code)
        if isinstance(code, InvalidCode):
            return RowProblem.INVALID_CODE
        facts = self._facts.get((born, status)) or self._learn(born, status)
        if isinstance(facts, RowProblem):
            return facts
        compact, verdict, status_code = facts
        return code, verdict, record_plaintext(first, last, father, compact, _GENDERS[gender], status_code)

    def check(self, fields: list[str]) -> tuple[str, Verdict, bytes] | RowProblem:
        """The canonical code, the registry verdict and the record plaintext; or the first problem."""
        if len(fields) != 7:
            return RowProblem.FIELD_COUNT
        raw_code, first, last, father, born, gender, status = fields
        code = parse_national_code(raw_code)
        if isinstance(code, InvalidCode):
            return RowProblem.INVALID_CODE
        first, last, father = first.strip(), last.strip(), father.strip()
        if (not (0 < len(first) <= MAX_NAME and 0 < len(last) <= MAX_NAME and 0 < len(father) <= MAX_NAME)
                or _BAD_NAME.search(first + last + father)):
            return RowProblem.BAD_NAME
        g = _GENDERS.get(gender.strip())
        if g is None:
            return RowProblem.BAD_GENDER
        facts = self._facts.get((born, status)) or self._learn(born, status)
        if isinstance(facts, RowProblem):
            return facts
        compact, verdict, status_code = facts
        return code, verdict, record_plaintext(first, last, father, compact, g, status_code)

    def _learn(self, born: str, status: str) -> tuple[str, Verdict, str] | RowProblem:
        """Work out and remember what a (birth date, status) pair means under the core's rules."""
        result: tuple[str, Verdict, str] | RowProblem
        day = parse_jalali(born)
        s = _STATUSES.get(status.strip())
        if day is None:
            result = RowProblem.BAD_BIRTH_DATE
        elif day > self._rules.day:
            result = RowProblem.BORN_AFTER_ELECTION
        elif s is None:
            result = RowProblem.BAD_STATUS
        else:
            verdict = registry_verdict(VoterRecord("", "", "", day, Gender.MALE, s), self._rules)
            result = (f"{day.year:04d}{day.month:02d}{day.day:02d}", verdict, STATUS_CODE[s])
        if len(self._facts) < 500_000:
            self._facts[(born, status)] = result
        return result
