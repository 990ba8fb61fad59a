"""Synthetic civil-registry extracts: realistic enough to test and benchmark with, no real person in them.

Deterministic: the same seed, size and election day give a byte-identical file,
so a benchmark or a failing test can be reproduced anywhere. National codes
come from an affine permutation of a counter over the office-prefix × serial
space, which makes them unique without remembering the ones already issued.
"""
from __future__ import annotations

import datetime as _dt
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TextIO, TypeVar

from kiosk.core.jalali import JalaliDate, date_of_age, full_years, is_leap, persian_digits
from kiosk.core.national_code import check_digit
from kiosk.store.atomic import atomic_file

HEADER = "national_code,first_name,last_name,father_name,birth_date,gender,status\n"
MAX_AGE = 100
EDGE_CASES_FROM = 100  # extracts this large always carry the hand-picked edge cases

# Names as "name:weight" tokens (weight 1 when omitted), grouped by the
# generation that gives them most: y = under 25, m = 25–54, o = 55 and over.
_MALE = {
    "*": "محمد:12 علی:10 حسین:7 رضا:5 مهدی:5 حسن:4 محمدرضا:4 علیرضا:3 احمد:2 امیر:2 مصطفی:2"
    " مرتضی:2 مجتبی:2 محسن:2 جواد:2 سعید:2 هادی حمید یوسف ابراهیم امین صادق",
    "y": "امیرحسین:6 ابوالفضل:5 امیرمحمد:4 امیرعلی:4 طاها:3 یاسین:3 آرین:3 پارسا:3 عرفان:3"
    " محمدامین:3 محمدمهدی:3 محمدحسین:3 محمدطاها:2 آرمین:2 ماهان:2 بنیامین:2 متین:2 سینا:2"
    " امیررضا:2 بردیا:2 کیان:2 آریا:2 امیرعباس:2 سبحان:2 صدرا:2",
    "m": "سجاد:2 میلاد:2 مسعود:2 حامد:2 ایمان:2 مجید:2 وحید:2 امید:2 حمیدرضا:2 محمدجواد:2"
    " محمدعلی:2 نیما آرش فرهاد بهزاد پویا رسول کامران شهرام داریوش کوروش بهروز روح‌الله"
    " حسام سامان فرشاد",
    "o": "غلامرضا:3 عباس:3 محمود:3 غلامحسین:2 علی‌اکبر:2 علی‌اصغر:2 اکبر:2 اصغر:2 قاسم:2"
    " جعفر:2 کاظم:2 اسماعیل:2 ناصر:2 یعقوب نادر منصور ابوالقاسم نصرالله حبیب‌الله"
    " عزت‌الله رحیم کریم",
}
_FEMALE = {
    "*": "فاطمه:10 زهرا:8 مریم:6 زینب:4 معصومه:2 نرگس:2 سارا:2 لیلا مینا طاهره",
    "y": "فاطمه‌زهرا:3 نازنین‌زهرا:3 ستایش:3 ریحانه:2 هستی:2 حنانه:2 یسنا:2 کوثر:2 ملیکا:2"
    " آتنا:2 رها:2 باران:2 حلما:2 محدثه:2 مبینا:2 ثنا:2 مائده آیدا مهدیه یگانه کیمیا آوا"
    " نیایش هلیا النا",
    "m": "الهام:2 مهسا:2 سمیه:2 عاطفه:2 سمانه:2 مرضیه:2 ندا:2 نازنین نگار نیلوفر پریسا سپیده"
    " راضیه راحله نسرین هانیه بهاره مهتاب ساناز الناز فائزه زهره شیما سحر فرزانه",
    "o": "اکرم:2 اعظم:2 صدیقه:2 خدیجه:2 رقیه:2 سکینه:2 کبری:2 پروین:2 بتول:2 اشرف شهناز فریبا"
    " شیرین سهیلا منصوره منیژه عفت طیبه فرخنده",
}
_SURNAMES = (
    "محمدی:4 حسینی:4 احمدی:3 رضایی:3 موسوی:3 کریمی:2 جعفری:2 رحیمی:2 صادقی:2 قاسمی:2"
    " حیدری:2 عباسی:2 اکبری:2 کاظمی:2 ابراهیمی:2 مرادی:2 نوری:2 امینی:2 سلیمانی:2 طاهری:2"
    " هاشمی:2 یوسفی:2 محمودی:2 شریفی نجفی صالحی رستمی باقری جلالی اسدی عسگری فتحی زارعی"
    " نظری کرمی سلطانی قربانی میرزایی حسنی علیزاده حسن‌زاده حسین‌زاده محمدزاده رضازاده"
    " تقی‌زاده ولی‌زاده قلی‌زاده امیری بهرامی خسروی فرهادی شجاعی مهدوی دهقان دهقانی زمانی"
    " ملکی نیک‌خواه پورمحمدی احمدپور حسن‌پور علی‌پور قلی‌پور حسین‌پور رحمانی اصغری بابایی"
    " مختاری فرجی عزیزی پناهی خلیلی اسماعیلی یزدانی افشار افشاری شیرازی تهرانی اصفهانی"
    " کرمانی تبریزی کاشانی یزدی صفری سعیدی مقدم شاکری نوروزی توکلی کیانی فلاحی منصوری"
    " انصاری قادری نادری اسلامی حیدرزاده سبحانی کریمیان رحمتی عطایی آقایی بیات خدادادی"
    " شهبازی شیخی عربی رنجبر کشاورز آزادی جمالی حاجی‌زاده طالبی مؤمنی نصیری پاکزاد رفیعی"
    " شفیعی بهمنی ایزدی ربیعی وحیدی حمیدی مجیدی عبداللهی یعقوبی نعمتی حقیقی فاضلی"
    " هاشمی‌نژاد رضایی‌نژاد محمدی‌نیا حسینی‌نسب موسوی‌نژاد کریمی‌نژاد صادقی‌نیا جعفرزاده"
    " اکبرزاده عباس‌زاده قاسم‌زاده کاظم‌زاده ابراهیم‌زاده اسماعیل‌زاده یوسف‌زاده ملک‌زاده"
    " رجبی رمضانی شعبانی خادمی ناصری پاشایی غفاری مرتضوی مصطفوی بیرانوند حسنوند"
)
_GENERATIONS = "ymo"
# How strongly a generation's names carry over to the others (own, adjacent, far).
_CARRY = (1.0, 0.25, 0.05)

# People per five-year age group (millions), shaped like Iran in the 2020s:
# the 1980s baby boom at 35–44, the dip of the 2000s at 20–29, the echo below.
_PYRAMID = (4.4, 5.9, 6.6, 6.3, 5.3, 5.6, 7.2, 8.5, 7.9, 6.3,
            5.2, 4.3, 3.6, 2.7, 1.8, 1.1, 0.7, 0.35, 0.12, 0.03, 0.01)
_DECEASED_SHARE = 0.010
_SUSPENDED_SHARE = 0.003
_PERSIAN_DIGIT_SHARE = 0.005

# Random bits per row: first name 9 (gender is the top one), surname 8,
# father 8, age 12, day of the year 15, status 12 — one getrandbits(64).
_STATUS_SCALE = 4096
_AGE_SLOTS = 4096

# Codes: office prefix 001–999 and serial 000001–999999, numbered together.
_SERIALS = 999_999
_SPACE = 999 * _SERIALS
_TRIPLES = tuple(f"{i:03d}" for i in range(1000))
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What the extract holds, for the authority's report and for tests to recount.

    `underage` counts living minors only: a deceased or suspended minor is
    reported under that status, as the kiosk's verdict would. The birthday
    count includes everyone whose 18th birthday is the election day, whatever
    their status.
    """

    voters: int
    eligible: int
    underage: int
    deceased: int
    suspended: int
    birthday_on_election_day: int


@dataclass(frozen=True, slots=True)
class _Edge:
    """A hand-picked row: its birth date and status replace the random ones."""

    born: JalaliDate
    status: str


@dataclass(slots=True)
class _Override:
    """What replaces the random values of one row: a code, an edge case, or both."""

    code: str | None = None
    edge: _Edge | None = None


def write_extract(out: Path, voters: int, seed: int, election_day: JalaliDate) -> SynthSummary:
    """Write a synthetic extract atomically (a crash leaves the old file or none) and summarise it."""
    if voters < 0 or voters > _SPACE // 2:
        raise ValueError("voters out of range")
    with atomic_file(Path(out), mode=0o600) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        summary = _generate(text, voters, seed, election_day)
        text.flush()
        text.detach()  # atomic_file closes the file itself, after its fsync
    return summary


def _generate(f: TextIO, voters: int, seed: int, day: JalaliDate) -> SynthSummary:
    """The hot loop: table lookups and one random draw per row."""
    rng = random.Random(seed)
    step = rng.randrange(_SPACE // 4, 3 * _SPACE // 4)
    while math.gcd(step, _SPACE) != 1:
        step += 1
    start = rng.randrange(_SPACE)
    windows = _windows(day)
    first, father, cohort = _first_names(), _fathers(), _cohort_of_age()
    surnames, ages = _surnames(), _age_table()
    dead_below, barred_below = _status_thresholds()
    weight_hi, weight_mid, weight_lo, check = _code_tables()
    persian_from = _STATUS_SCALE - round(_PERSIAN_DIGIT_SHARE * _STATUS_SCALE)
    birthday_dates = frozenset(str(b) for b in _birthdays_on(windows[18], day))
    overrides = _overrides(rng, voters, step, start, day, windows)
    specials = sorted(overrides) + [voters]
    next_special, special_at = specials[0], 1

    alive = [0] * (MAX_AGE + 1)
    dead = barred = birthdays = 0
    gbits, p = rng.getrandbits, start
    lines: list[str] = []
    f.write(HEADER)
    for i in range(voters):
        p += step
        if p >= _SPACE:
            p -= _SPACE
        prefix, serial = divmod(p, _SERIALS)
        hi, lo = divmod(serial + 1, 1000)
        prefix += 1
        code = _TRIPLES[prefix] + _TRIPLES[hi] + _TRIPLES[lo] + check[
            weight_hi[prefix] + weight_mid[hi] + weight_lo[lo]]
        r = gbits(64)
        name = r & 511
        age = ages[(r >> 25) & 4095]
        window = windows[age]
        born = window[((r >> 37) & 32767) % len(window)]
        s = r >> 52
        if i == next_special:
            code, born, age, s = _apply(overrides[i], code, born, age, s, day, persian_from)
            next_special, special_at = specials[special_at], special_at + 1
        if age == 18 and born in birthday_dates:
            birthdays += 1
        if s < dead_below[age]:
            status = "deceased"
            dead += 1
        elif s < barred_below[age]:
            status = "suspended"
            barred += 1
        else:
            status = "alive"
            alive[age] += 1
            if s >= persian_from:
                born = persian_digits(born)
        c = cohort[age]
        lines.append(f"{code},{first[c][name]},{surnames[(r >> 9) & 255]},"
                     f"{father[c][(r >> 17) & 255]},{born},{'female' if name & 256 else 'male'},"
                     f"{status}\n")
        if len(lines) >= 32768:
            f.write("".join(lines))
            lines.clear()
    f.write("".join(lines))
    return SynthSummary(voters, sum(alive[18:]), sum(alive[:18]), dead, barred, birthdays)


def _apply(edit: _Override, code: str, born: str, age: int, draw: int, day: JalaliDate,
           persian_from: int) -> tuple[str, str, int, int]:
    """A special row's code, birth date, age and status draw."""
    if edit.code is not None:
        code = edit.code
    if edit.edge is None:
        return code, born, age, draw
    age = full_years(edit.edge.born, day)
    # A status draw that lands in the wanted band; edge rows keep ASCII digits.
    draw = {"alive": persian_from - 1, "deceased": -1,
            "suspended": _status_thresholds()[0][age]}[edit.edge.status]
    return code, str(edit.edge.born), age, draw


def _overrides(rng: random.Random, voters: int, step: int, start: int, day: JalaliDate,
               windows: Sequence[Sequence[str]]) -> dict[int, _Override]:
    """Rows that must not be random: ten-identical-digit codes, and the edge cases."""
    overrides: dict[int, _Override] = {}
    inverse = pow(step, -1, _SPACE)
    spare = voters
    for d in range(1, 10):
        bad = d * 111 - 1, d * 111_111 - 1  # ddd dddddd d would pass the checksum
        i = ((bad[0] * _SERIALS + bad[1] - start) * inverse - 1) % _SPACE
        if i < voters:
            while True:  # indices past the end are never used, so still unique
                replacement = _code_at(start + (spare + 1) * step)
                spare += 1
                if replacement != replacement[0] * 10:
                    break
            overrides[i] = _Override(code=replacement)
    if voters >= EDGE_CASES_FROM:
        edges = _edge_cases(rng, day, windows)
        for i, edge in zip(rng.sample(range(voters), len(edges)), edges):
            overrides.setdefault(i, _Override()).edge = edge
    return overrides


def _code_at(p: int) -> str:
    """The national code of position `p` of the permutation (the slow path)."""
    prefix, serial = divmod(p % _SPACE, _SERIALS)
    first_nine = f"{prefix + 1:03d}{serial + 1:06d}"
    return first_nine + str(check_digit(first_nine))


def _edge_cases(rng: random.Random, day: JalaliDate, windows: Sequence[Sequence[str]]) -> list[_Edge]:
    """The people the age rule is most likely to get wrong, plus the non-age refusals."""
    edges: list[_Edge] = []
    tomorrow = JalaliDate.from_gregorian(day.to_gregorian() + _dt.timedelta(days=1))
    for who, target in ((windows[18], day), (windows[17], tomorrow)):
        found = _birthdays_on(who, target)
        if found:  # none exists when the day is an Esfand 30 with no match 18 years back
            edges.append(_Edge(found[0], "alive"))
    leap_years = [y for y in range(day.year - 22, day.year - 13) if is_leap(y)]
    if leap_years:
        def distance(y: int) -> int:
            turns = date_of_age(JalaliDate(y, 12, 30), 18)
            return abs(turns.to_gregorian().toordinal() - day.to_gregorian().toordinal())
        edges.append(_Edge(JalaliDate(min(leap_years, key=distance), 12, 30), "alive"))
    for age, status in ((rng.randrange(30, 85), "deceased"), (rng.randrange(20, 70), "suspended")):
        window = windows[age]
        edges.append(_Edge(_parse(window[rng.randrange(len(window))]), status))
    return edges


def _birthdays_on(window: Sequence[str], target: JalaliDate) -> list[JalaliDate]:
    """Birth dates in `window` whose 18th birthday is `target`, same month and day first."""
    # Only the same month and day, or an Esfand 30, can have its birthday on `target`.
    near = [t for t in window if t.endswith((f"/{target.month:02d}/{target.day:02d}", "/12/30"))]
    found = [b for b in map(_parse, near) if date_of_age(b, 18) == target]
    return sorted(found, key=lambda b: (b.month, b.day) != (target.month, target.day))


def _parse(text: str) -> JalaliDate:
    y, m, d = text.split("/")
    return JalaliDate(int(y), int(m), int(d))


@lru_cache(maxsize=4)
def _windows(day: JalaliDate) -> tuple[tuple[str, ...], ...]:
    """Birth dates by age on the election day: windows[a] holds everyone exactly `a` years old."""
    by_age: list[list[str]] = [[] for _ in range(MAX_AGE + 1)]
    for year in range(day.year - MAX_AGE - 1, day.year + 1):
        months = (31,) * 6 + (30,) * 5 + (30 if is_leap(year) else 29,)
        for month, last in enumerate(months, start=1):
            for d in range(1, last + 1):
                # full_years' rule inlined: 37,000 JalaliDate objects would cost 0.3 s;
                # the tests recount every row with full_years itself.
                age = day.year - year - ((day.month, day.day) < (month, d))
                if 0 <= age <= MAX_AGE:
                    by_age[age].append(f"{year:04d}/{month:02d}/{d:02d}")
    return tuple(tuple(w) for w in by_age)


@lru_cache(maxsize=1)
def _age_table() -> tuple[int, ...]:
    """4096 slots of ages, each age getting its share of the pyramid (at least one slot)."""
    mids = [2 + 5 * g for g in range(len(_PYRAMID))]
    def density(age: int) -> float:
        if age <= mids[0]:
            return _PYRAMID[0]
        g = min((age - mids[0]) // 5, len(_PYRAMID) - 2)
        t = (age - mids[g]) / 5
        return max(_PYRAMID[g] * (1 - t) + _PYRAMID[g + 1] * t, 0.001)
    return _slots([(a, density(a)) for a in range(MAX_AGE + 1)], _AGE_SLOTS, at_least_one=True)


@lru_cache(maxsize=1)
def _status_thresholds() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per age: draws below the first are deceased, below the second suspended (adults only)."""
    ages = _age_table()
    share = [ages.count(a) / len(ages) for a in range(MAX_AGE + 1)]
    risk = [0.2 + (a / 30) ** 4 for a in range(MAX_AGE + 1)]  # mortality climbs steeply with age
    scale = _DECEASED_SHARE / sum(s * k for s, k in zip(share, risk))
    dead = [min(round(k * scale * _STATUS_SCALE), _STATUS_SCALE // 2) for k in risk]
    adults = sum(share[18:])
    barred = round(_SUSPENDED_SHARE / adults * _STATUS_SCALE)
    return tuple(dead), tuple(d + (barred if a >= 18 else 0) for a, d in enumerate(dead))


@lru_cache(maxsize=1)
def _cohort_of_age() -> tuple[int, ...]:
    return tuple(0 if a < 25 else 1 if a < 55 else 2 for a in range(MAX_AGE + 1))


@lru_cache(maxsize=1)
def _first_names() -> tuple[tuple[str, ...], ...]:
    """Per generation: 256 male slots then 256 female, so bit 8 of the draw is the gender."""
    return tuple(_generation_table(_MALE, g) + _generation_table(_FEMALE, g) for g in range(3))


@lru_cache(maxsize=1)
def _fathers() -> tuple[tuple[str, ...], ...]:
    """A father's name comes from the generation before the child's."""
    return tuple(_generation_table(_MALE, min(g + 1, 2)) for g in range(3))


@lru_cache(maxsize=1)
def _surnames() -> tuple[str, ...]:
    return _slots(_tokens(_SURNAMES), 256)


def _generation_table(groups: dict[str, str], generation: int) -> tuple[str, ...]:
    weighted = _tokens(groups["*"])
    for g, letter in enumerate(_GENERATIONS):
        carry = _CARRY[abs(g - generation)]
        weighted += [(name, w * carry) for name, w in _tokens(groups[letter])]
    return _slots(weighted, 256)


def _tokens(text: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for token in text.split():
        name, _, weight = token.partition(":")
        out.append((name, float(weight or 1)))
    return out


def _slots(weighted: Sequence[tuple[_T, float]], size: int, at_least_one: bool = False) -> tuple[_T, ...]:
    """A lookup table of `size` slots shared by weight (largest remainder), so a draw is one index."""
    total = sum(w for _, w in weighted)
    base = size - (len(weighted) if at_least_one else 0)
    exact = [w / total * base for _, w in weighted]
    counts = [int(x) + (1 if at_least_one else 0) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (int(exact[i]) - exact[i], i))
    for i in by_remainder[: size - sum(counts)]:
        counts[i] += 1
    return tuple(item for (item, _), n in zip(weighted, counts) for _ in range(n))


@lru_cache(maxsize=1)
def _code_tables() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    """Checksum partial sums per three-digit group, and the check digit of every possible total."""
    def weights(w: tuple[int, int, int]) -> tuple[int, ...]:
        return tuple(sum(int(c) * k for c, k in zip(t, w)) for t in _TRIPLES)
    check = tuple(str(s % 11 if s % 11 < 2 else 11 - s % 11) for s in range(9 * 54 + 1))
    return weights((10, 9, 8)), weights((7, 6, 5)), weights((4, 3, 2)), check
