"""The row checker's one-regex fast path must judge every line exactly as the field-by-field path does."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ELECTION_DAY, code
from kiosk.core.eligibility import ElectionRules
from kiosk.core.jalali import parse_jalali
from provisioning.voters_csv import RowChecker, RowProblem, split_line

_day = parse_jalali(ELECTION_DAY)
assert _day is not None
RULES = ElectionRules(_day, 18)

names = st.sampled_from(["علی", "محمدی‌نیا", " زهرا", "حسن ", "", "a" * 64, "a" * 65, "ب\x01ج", "x\"y",
                         "آقا سید", "\udcff", "نام\u200c"])
codes = st.one_of(st.integers(1, 999_999).map(code), st.sampled_from(["1111111111", "0012345678", "۰۰۱۲۳۴۵۶۷۹",
                                                                      "12345678", "abc", "", "001-234567-9"]))
dates = st.sampled_from(["1360/05/12", "1405/03/01", "1405/03/02", "1404/12/30", "1403/12/30", "1360/00/12",
                         "۱۳۶۰/۰۵/۱۲", "1360/5/12", "13600512", "", "1387/03/01"])
genders = st.sampled_from(["male", "female", "Male", " male", "x"])
statuses = st.sampled_from(["alive", "deceased", "suspended", "dead", "alive "])


def _slow(checker: RowChecker, line: str) -> object:
    fields = split_line(line)
    return RowProblem.BAD_CSV if fields is None else checker.check(fields)


@settings(max_examples=1500, deadline=None)
@given(codes, names, names, names, dates, genders, statuses, st.sampled_from(["", "\r", ",extra"]))
def test_fast_and_field_paths_agree(c: str, first: str, last: str, father: str, born: str, gender: str,
                                    status: str, tail: str) -> None:
    line = ",".join((c, first, last, father, born, gender, status)) + tail
    checker = RowChecker(RULES)
    assert checker.check_line(line) == _slow(RowChecker(RULES), line)


def test_quoted_fields_are_read_and_a_field_may_not_span_lines() -> None:
    checker = RowChecker(RULES)
    good = checker.check_line(f'"{code(5)}","علی, رضا",محمدی,حسن,1360/05/12,male,alive')
    assert not isinstance(good, RowProblem) and good[0] == code(5)
    assert checker.check_line(f'{code(5)},"علی,محمدی,حسن,1360/05/12,male,alive') is RowProblem.BAD_CSV
