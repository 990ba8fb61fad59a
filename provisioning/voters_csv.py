"""Checking each row of the civil-registry extract; every refusal has a line number and a reason.

This runs once per row of extracts of up to 62 million rows, so the checker
caches what repeats (birth dates, their verdicts) and builds the record's
plaintext directly instead of going through a VoterRecord per row. Whatever
needs more than the one regular expression (capitalised words, Arabic letters
in names, padded codes) is found and repaired on the field-by-field path only.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import Enum

from kiosk.core.eligibility import ElectionRules, Verdict, registry_verdict
from kiosk.core.jalali import PLAUSIBLE_YEARS, gregorian_lookalike, parse_jalali
from kiosk.core.national_code import InvalidCode, parse_national_code, zeros_added
from kiosk.core.voter import CivilStatus, Gender, VoterRecord
from kiosk.store.registry import GENDER_CODE, STATUS_CODE, record_plaintext

HEADER = ("national_code", "first_name", "last_name", "father_name", "birth_date", "gender", "status")
MAX_NAME = 64
# Control characters (our record separator among them), undecodable bytes (kept as
# surrogates by the reader) and U+FFFD (left by a broken conversion) have no place in a name.
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffd]")
# Arabic yeh, alef maksura and kaf, and Arabic-Indic digits, as Windows-1256 exports and
# Arabic keyboards write them: Persian text has ی, ک and Persian digits in their place.
# Teh marbuta (ة) and Kurdish ae (ە) stay: Persian keeps ة in some Arabic-born names, and
# ە is a letter of its own in Kurdish names.
_PERSIAN_FORMS = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9",
                                **{chr(0x0660 + i): chr(0x06f0 + i) for i in range(10)}})
_ARABIC_FORMS = "\u064a\u0649\u0643\u0660-\u0669"
_EDGES = re.compile(r"^[\s\u200c]+|[\s\u200c]+$")
# A run of spaces and ZWNJs: with a space in it, one space; of ZWNJs only, one ZWNJ.
_GAPS = re.compile(r"[ \u200c]{2,}")
# What the fast path cannot see in one line: two spaces or ZWNJs side by side.
# The build looks for them in a whole chunk's bytes at once (see RowChecker.check_line_careful).
GAP_BYTES = (b"  ", b" \xe2\x80\x8c", b"\xe2\x80\x8c ", b"\xe2\x80\x8c\xe2\x80\x8c")
_GENDERS = {g.value: GENDER_CODE[g] for g in Gender}
# The common row in one regular expression: unquoted, ASCII digits, lower-case words, names
# already normal (trimmed, Persian letters). A line it accepts (and that has no gap, above)
# gets exactly the result the field-by-field path would give (a test checks the two agree);
# anything else takes the field-by-field path for its repair or its reason.
_EDGE_NOT = rf',"\x00-\x1f\x7f\s\u200c\ud800-\udfff\ufffd{_ARABIC_FORMS}'
_INNER_NOT = rf',"\x00-\x1f\x7f\ud800-\udfff\ufffd{_ARABIC_FORMS}'
_NAME = rf"([^{_EDGE_NOT}](?:[^{_INNER_NOT}]{{0,62}}[^{_EDGE_NOT}])?)"
_FAST_ROW = re.compile(
    rf"([0-9]{{10}}),{_NAME},{_NAME},{_NAME},([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}}),(male|female),(alive|deceased|suspended)\r?"
).fullmatch
_GAP = re.compile(r"[ \u200c][ \u200c]").search
_STATUSES = {s.value: s for s in CivilStatus}


def normalise_name(name: str) -> str:
    """A name as Persian text writes it: ی and ک, no stray ZWNJ or spaces at the ends or doubled."""
    name = _EDGES.sub("", name.translate(_PERSIAN_FORMS))
    return _GAPS.sub(lambda m: " " if " " in m.group() else "\u200c", name)


class RowProblem(Enum):
    """Why a row of the extract was rejected."""

    BAD_CSV = "broken CSV quoting (a field may not span lines)"
    FIELD_COUNT = "wrong number of fields"
    INVALID_CODE = "invalid national code"
    SHORT_CODE = ("national code has 8 or 9 digits: a code that lost a digit can pass the checksum and be filed "
                  "under another person; if a spreadsheet dropped leading zeros, build with --pad-codes")
    BAD_NAME = "empty, overlong or malformed name"
    BAD_BIRTH_DATE = "birth date is not a Jalali YYYY/MM/DD date"
    GREGORIAN_BIRTH_DATE = "birth date looks Gregorian, not Jalali"
    IMPLAUSIBLE_BIRTH_YEAR = (f"birth year is not a plausible Jalali year "
                              f"({PLAUSIBLE_YEARS.start}–{PLAUSIBLE_YEARS.stop - 1})")
    BORN_AFTER_ELECTION = "birth date after the election day"
    BAD_GENDER = "gender is not male or female"
    BAD_STATUS = "status is not alive, deceased or suspended"
    DUPLICATE_CODE = "national code appears more than once"


@dataclass(frozen=True, slots=True)
class Rejected:
    """One rejected line of the extract."""

    line: int
    problem: RowProblem
    detail: str = ""

    @property
    def reason(self) -> str:
        """The problem as the report and the console show it, with the row's hint when there is one."""
        return self.problem.value + self.detail


def detail_of(problem: RowProblem, fields: list[str] | None) -> str:
    """The hint a reason carries for this row: the Jalali form of a Gregorian birth date."""
    if problem is RowProblem.GREGORIAN_BIRTH_DATE and fields is not None and len(fields) == 7:
        day = gregorian_lookalike(fields[4])
        if day is not None:
            return f" (as a Jalali date: {day})"
    return ""


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
    """Checks rows against one election's rules: (code, verdict, plaintext) or the problem.

    `padded` and `normalised` count the accepted rows whose code was padded with
    leading zeros and whose names were normalised; the build adds them to its figures.
    """

    def __init__(self, rules: ElectionRules, pad_codes: bool = False) -> None:
        self._rules = rules
        self._pad_codes = pad_codes
        self.padded = 0
        self.normalised = 0
        # (birth-date text, status text) -> (YYYYMMDD, verdict, status code) or the problem.
        # Keys are plain strings: their hashes are cached, which matters at 62 million rows.
        self._facts: dict[tuple[str, str], tuple[str, Verdict, str] | RowProblem] = {}

    def check_line(self, line: str) -> tuple[str, Verdict, bytes] | RowProblem:
        """Check one physical line of the extract (without its newline) known to hold no gap (GAP_BYTES)."""
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

    def check_line_careful(self, line: str) -> tuple[str, Verdict, bytes] | RowProblem:
        """Check one physical line that may hold doubled spaces or ZWNJs inside a name."""
        if _GAP(line) is None:
            return self.check_line(line)
        fields = split_line(line)
        return RowProblem.BAD_CSV if fields is None else self.check(fields)

    def check(self, fields: list[str]) -> tuple[str, Verdict, bytes] | RowProblem:
        """The canonical code, the registry verdict and the record plaintext; or the first problem."""
        if len(fields) != 7:
            return RowProblem.FIELD_COUNT
        raw_code, raw_first, raw_last, raw_father, born, gender, status = fields
        code = parse_national_code(raw_code)
        if isinstance(code, InvalidCode):
            return RowProblem.INVALID_CODE
        padded = zeros_added(raw_code) > 0
        if padded and not self._pad_codes:
            return RowProblem.SHORT_CODE
        first, last, father = normalise_name(raw_first), normalise_name(raw_last), normalise_name(raw_father)
        if (not (0 < len(first) <= MAX_NAME and 0 < len(last) <= MAX_NAME and 0 < len(father) <= MAX_NAME)
                or _BAD_NAME.search(first + last + father)):
            return RowProblem.BAD_NAME
        g = _GENDERS.get(gender.strip().lower())
        if g is None:
            return RowProblem.BAD_GENDER
        facts = self._facts.get((born, status)) or self._learn(born, status)
        if isinstance(facts, RowProblem):
            return facts
        compact, verdict, status_code = facts
        self.padded += padded
        self.normalised += (first, last, father) != (raw_first, raw_last, raw_father)
        return code, verdict, record_plaintext(first, last, father, compact, g, status_code)

    def _learn(self, born: str, status: str) -> tuple[str, Verdict, str] | RowProblem:
        """Work out and remember what a (birth date, status) pair means under the core's rules."""
        result: tuple[str, Verdict, str] | RowProblem
        # jdatetime takes 1990 as a Jalali year: look for a Gregorian date before the calendar does.
        gregorian = gregorian_lookalike(born)
        day = parse_jalali(born) if gregorian is None else None
        s = _STATUSES.get(status.strip().lower())
        if gregorian is not None:
            result = RowProblem.GREGORIAN_BIRTH_DATE
        elif day is None:
            result = RowProblem.BAD_BIRTH_DATE
        elif day.year not in PLAUSIBLE_YEARS:
            result = RowProblem.IMPLAUSIBLE_BIRTH_YEAR
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
