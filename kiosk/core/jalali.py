"""Solar Hijri (Jalali) dates: parsing in any digit script, the age rule, Persian display.

Calendar arithmetic is jdatetime's; this module adds only what the election
rules need on top of it.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import jdatetime

from kiosk.core.national_code import ascii_digits_only

# "Today" is the election day in Tehran, whatever the device's own zone (DESIGN: Clock).
TEHRAN = ZoneInfo("Asia/Tehran")

_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MONTHS_FA = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)
MONTHS_EN = (
    "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
    "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
)


@dataclass(frozen=True, slots=True, order=True)
class JalaliDate:
    """A calendar date that exists in the Jalali calendar (checked at construction)."""

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        if not _exists(self.year, self.month, self.day):
            raise ValueError("not a Jalali date")

    def __str__(self) -> str:
        return f"{self.year:04d}/{self.month:02d}/{self.day:02d}"

    def to_gregorian(self) -> _dt.date:
        """The same day in the Gregorian calendar."""
        gregorian: _dt.date = jdatetime.date(self.year, self.month, self.day).togregorian()
        return gregorian

    @classmethod
    def from_gregorian(cls, day: _dt.date) -> JalaliDate:
        """The Jalali date of a Gregorian day."""
        j = jdatetime.date.fromgregorian(date=day)
        return cls(j.year, j.month, j.day)


@lru_cache(maxsize=None)
def _exists(year: int, month: int, day: int) -> bool:
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1 <= year <= 3000):
        return False
    try:
        jdatetime.date(year, month, day)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def parse_jalali(text: str) -> JalaliDate | None:
    """Parse `YYYY/MM/DD` in any digit script; None for malformed or non-existent dates.

    Cached: a registry extract has only tens of thousands of distinct birth dates.
    """
    parts = ascii_digits_only(text.strip()).split("/")
    if len(parts) != 3 or len(parts[0]) != 4 or not all(
        p.isascii() and p.isdigit() and 1 <= len(p) <= 4 for p in parts
    ):
        return None
    year, month, day = (int(p) for p in parts)
    if not _exists(year, month, day):
        return None
    return JalaliDate(year, month, day)


# Years a Jalali date on our documents can plausibly carry: the oldest living person was
# born after 1280 (1901), and no election of this appliance's life is after 1499 (2121).
# A four-digit year of 1900 or more is a Gregorian year written where a Jalali one belongs.
PLAUSIBLE_YEARS = range(1280, 1500)
_GREGORIAN_YEARS = range(1900, 2200)


def gregorian_lookalike(text: str) -> JalaliDate | None:
    """The Jalali form of `text` when it reads as a Gregorian YYYY/MM/DD (or YYYY-MM-DD) date.

    Operators paste Gregorian dates from spreadsheets; jdatetime accepts year 2026
    as a Jalali year (622 years from now), so a check by calendar alone lets a
    one-year-old through. The caller refuses and shows this form as the hint.
    """
    parts = ascii_digits_only(text.strip()).replace("-", "/").split("/")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts) or len(parts[0]) != 4:
        return None
    year, month, day = (int(p) for p in parts)
    if year not in _GREGORIAN_YEARS:
        return None
    try:
        return JalaliDate.from_gregorian(_dt.date(year, month, day))
    except ValueError:
        return None


def is_leap(year: int) -> bool:
    """True when the Jalali year has an Esfand 30."""
    return bool(jdatetime.date(year, 1, 1).isleap())


def full_years(born: JalaliDate, on: JalaliDate) -> int:
    """Completed years of age on a day, comparing (month, day) as the election law counts.

    A person born on Esfand 30 completes a year on Farvardin 1 when the later
    year has no Esfand 30, because (12, 29) < (12, 30) on the last day of it.
    """
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def date_of_age(born: JalaliDate, years: int) -> JalaliDate:
    """The first day on which a person born on `born` has `years` full years."""
    year = born.year + years
    if (born.month, born.day) == (12, 30) and not is_leap(year):
        return JalaliDate(year + 1, 1, 1)
    return JalaliDate(year, born.month, born.day)


def persian_digits(text: str | int) -> str:
    """Render ASCII digits as Persian digits for Persian screens and receipts."""
    return str(text).translate(_PERSIAN_DIGITS)


def format_fa(day: JalaliDate) -> str:
    """A date as Persian staff read it, e.g. ۴ آذر ۱۴۰۵."""
    return persian_digits(f"{day.day} {MONTHS_FA[day.month - 1]} {day.year}")


def format_en(day: JalaliDate) -> str:
    """A Jalali date in English, e.g. 4 Azar 1405."""
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
