"""An election's settings as the authority signs them and devices read them."""
from __future__ import annotations

import datetime as _dt
import difflib
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.eligibility import ElectionRules
from kiosk.core.jalali import PLAUSIBLE_YEARS, JalaliDate, gregorian_lookalike, is_leap
from kiosk.core.national_code import ascii_digits_only

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BRANCH = re.compile(r"^[0-9A-Za-z-]{1,16}$")
# Every setting a file may hold: a key outside these is a typo that would otherwise be
# silently ignored (`minimum_age = 16` leaving the default 18 in force).
SETTINGS = ("id", "name", "date", "min_age", "constituency", "card_trust_anchors", "branches")
BRANCH_SETTINGS = ("code", "name")
_EXAMPLE_DAY = "1405/03/01"
_AT_LINE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$")
_UNQUOTED = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*([^\s\"'\[{].*)$")
_BARE_VALUE = re.compile(r"^([+-]?[0-9_.]+|true|false)\s*(#.*)?$")


class ConfigRefused(Exception):
    """An election config that is incomplete or wrong, with the field named."""


@dataclass(frozen=True, slots=True)
class Branch:
    """One polling branch of the constituency."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ElectionConfig:
    """The signed settings every device of one election shares."""

    id: str
    name: str
    day: JalaliDate
    min_age: int
    constituency: str
    branches: tuple[Branch, ...]
    card_trust_anchors: tuple[str, ...] = ()

    @property
    def rules(self) -> ElectionRules:
        """The eligibility rules of this election."""
        return ElectionRules(self.day, self.min_age)

    def branch_codes(self) -> frozenset[str]:
        """Codes of every branch, to check enrollments against."""
        return frozenset(b.code for b in self.branches)

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form stored in the package."""
        return {
            "id": self.id, "name": self.name, "date": str(self.day), "min_age": self.min_age,
            "constituency": self.constituency,
            "branches": [{"code": b.code, "name": b.name} for b in self.branches],
            "card_trust_anchors": list(self.card_trust_anchors),
        }


def config_from_toml(data: bytes, name: str = "election.toml") -> ElectionConfig:
    """Decode and validate an election file's bytes; ConfigRefused says what is wrong and how to fix it.

    `name` is the file's name, shown in the conversion command a refusal suggests.
    """
    text = _decode(data, name)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigRefused(_toml_problem(exc, text)) from None
    return config_from_mapping(raw)


def config_from_mapping(raw: Mapping[str, Any]) -> ElectionConfig:
    """Validate a parsed TOML or JSON election config; ConfigRefused names the first bad field."""
    _known_keys(raw, SETTINGS, "")
    election_id = _field(raw, "id", str)
    if not _ID.match(election_id):
        raise ConfigRefused("id: letters, digits, '.', '_' or '-', at most 64")
    day = election_day(raw.get("date"))
    min_age = raw.get("min_age", 18)
    if not isinstance(min_age, int) or isinstance(min_age, bool) or not 15 <= min_age <= 25:
        raise ConfigRefused("min_age: an integer between 15 and 25")
    branches_raw = raw.get("branches")
    if not isinstance(branches_raw, list) or not branches_raw:
        raise ConfigRefused("branches: at least one [[branches]] entry")
    branches = tuple(_branch(b, n) for n, b in enumerate(branches_raw, 1))
    if len({b.code for b in branches}) != len(branches):
        raise ConfigRefused("branches: a branch code appears twice")
    anchors = raw.get("card_trust_anchors", [])
    if not isinstance(anchors, list) or not all(isinstance(a, str) and a for a in anchors):
        raise ConfigRefused("card_trust_anchors: a list of file names")
    return ElectionConfig(
        id=election_id, name=_field(raw, "name", str), day=day, min_age=min_age,
        constituency=_field(raw, "constituency", str), branches=branches,
        card_trust_anchors=tuple(anchors),
    )


def election_day(value: object) -> JalaliDate:
    """The election day from a `date` value: a plausible Jalali YYYY/MM/DD, or ConfigRefused saying why not.

    jdatetime takes 2026 as a Jalali year, so a Gregorian date pasted here would make
    every newborn of the registry old enough to vote: it is refused with its Jalali form.
    """
    if isinstance(value, _dt.date):  # a TOML date literal (unquoted), which TOML reads as Gregorian
        hint = gregorian_lookalike(value.strftime("%Y/%m/%d")) if value.year not in PLAUSIBLE_YEARS else None
        jalali = str(hint) if hint else f"{value.year:04d}/{value.month:02d}/{value.day:02d}"
        raise ConfigRefused(f"date: an unquoted date is read as a TOML (Gregorian) date; "
                            f'write the Jalali day in quotes: date = "{jalali}"')
    if not isinstance(value, str) or not value.strip():
        raise ConfigRefused("date: missing or not text; write the Jalali election day in quotes: "
                            f'date = "{_EXAMPLE_DAY}"')
    lookalike = gregorian_lookalike(value)
    if lookalike is not None:
        raise ConfigRefused(f"date: {value.strip()!r} looks like a Gregorian date; the election day is Jalali: "
                            f'date = "{lookalike}"')
    parts = ascii_digits_only(value.strip()).split("/")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts) or len(parts[0]) != 4:
        raise ConfigRefused(f"date: {value.strip()!r} is not a Jalali YYYY/MM/DD date such as {_EXAMPLE_DAY}")
    year, month, day = (int(p) for p in parts)
    if year not in PLAUSIBLE_YEARS:
        raise ConfigRefused(f"date: year {year} is not a plausible Jalali year "
                            f"({PLAUSIBLE_YEARS.start}-{PLAUSIBLE_YEARS.stop - 1}); e.g. {_EXAMPLE_DAY}")
    if not 1 <= month <= 12:
        raise ConfigRefused(f"date: month {month} does not exist; a Jalali month is 1-12")
    if not 1 <= day <= _month_days(year, month):
        raise ConfigRefused(f"date: day {day} does not exist; month {month} of {year} has "
                            f"{_month_days(year, month)} days")
    return JalaliDate(year, month, day)


def _month_days(year: int, month: int) -> int:
    # The Jalali calendar's fixed month lengths: six of 31, five of 30, Esfand 29 or 30.
    if month <= 6:
        return 31
    if month <= 11:
        return 30
    return 30 if is_leap(year) else 29


def _branch(raw: object, number: int) -> Branch:
    if not isinstance(raw, Mapping):
        raise ConfigRefused("branches: each entry needs code and name")
    _known_keys(raw, BRANCH_SETTINGS, f"branches (entry {number}): ")
    code = _field(raw, "code", str)
    if not _BRANCH.match(code):
        raise ConfigRefused(f"branches: code {code!r} is not 1-16 letters or digits")
    return Branch(code, _field(raw, "name", str))


def _known_keys(raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    """Refuse the first key that is not a setting, naming the near miss and the settings there are."""
    for key in raw:
        if key in known:
            continue
        near = difflib.get_close_matches(str(key).lower(), known, n=1, cutoff=0.6)
        guess = f"did you mean {near[0]}? " if near else ""
        raise ConfigRefused(f"{where}{key}: not a setting; {guess}the settings are {', '.join(known)}")


def _field(raw: Mapping[str, Any], name: str, kind: type) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        what = "text in quotes" if kind is str else f"a {kind.__name__}"
        raise ConfigRefused(f"{name}: missing or not {what}")
    return value


def _decode(data: bytes, name: str) -> str:
    """The file as text: UTF-8, with or without a BOM; UTF-16 and other encodings are refused with the fix."""
    quoted, fixed = shlex.quote(name), shlex.quote(f"{name}.utf8")
    convert = f"iconv -f {{}} -t UTF-8 {quoted} > {fixed} && mv {fixed} {quoted}"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigRefused("the file is UTF-16 (Windows 'Unicode'), not UTF-8; "
                            f"convert it: {convert.format('UTF-16')}")
    if b"\x00" in data[:4096]:  # TOML forbids NUL; ASCII keys in UTF-16 without a BOM are full of them
        odd = data[1:4096:2].count(0) > data[0:4096:2].count(0)
        encoding = "UTF-16LE" if odd else "UTF-16BE"
        raise ConfigRefused(f"the file is {encoding} (no BOM), not UTF-8; convert it: {convert.format(encoding)}")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        as_utf8 = data.decode("utf-8", errors="replace")
        bad, good = as_utf8.count("\ufffd"), sum(not c.isascii() and c != "\ufffd" for c in as_utf8)
        as_1256 = data.decode("cp1256", errors="replace")
        arabic = sum("\u0600" <= c <= "\u06ff" for c in as_1256)
        # Mostly undecodable as UTF-8 and mostly Arabic letters as Windows-1256: an Arabic-Windows save.
        if bad > good and arabic * 2 >= sum(not c.isascii() for c in as_1256):
            raise ConfigRefused(f"line {line} is not UTF-8: the file looks like Windows-1256 (Arabic Windows); "
                                f"convert it: {convert.format('WINDOWS-1256')}") from None
        raise ConfigRefused(f"line {line} is not UTF-8 (byte 0x{data[exc.start]:02X}); "
                            "save the file as UTF-8") from None


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's complaint in one line with its line number, and the usual cause: a value without quotes."""
    problem = str(exc).splitlines()[0] if str(exc) else "not valid TOML"
    at = _AT_LINE.search(problem)
    problem = problem[:at.start()] if at else problem
    if at is None:
        return f"not valid TOML: {problem}"
    if at.group(1) is None:
        return f"not valid TOML at the end of the file: {problem}"
    number = int(at.group(1))
    lines = text.split("\n")  # tomllib counts lines by \n alone
    statement = _UNQUOTED.match(lines[number - 1]) if number <= len(lines) else None
    hint = ""
    if number <= len(lines) and lines[number - 1].split("#")[0].count('"') % 2:
        hint = "; a quote is not closed on that line"
    elif statement and not _BARE_VALUE.match(statement.group(2)):
        key, value = statement.group(1), statement.group(2).split("#")[0].strip()
        if key == "date":
            value = str(gregorian_lookalike(value) or value.replace("-", "/"))
        hint = f'; text needs quotes: {key} = "{value}"'
    return f"line {number}: not valid TOML: {problem}{hint}"
