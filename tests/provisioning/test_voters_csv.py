"""The row checker's one-regex fast path must judge every line exactly as the field-by-field path does."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ELECTION_DAY, code
from kiosk.core.eligibility import ElectionRules
from kiosk.core.jalali import parse_jalali
from provisioning.voters_csv import GAP_BYTES, RowChecker, RowProblem, normalise_name, split_line

_day = parse_jalali(ELECTION_DAY)
assert _day is not None
RULES = ElectionRules(_day, 18)

names = st.sampled_from(["علی", "محمدی‌نیا", " زهرا", "حسن ", "", "a" * 64, "a" * 65, "ب\x01ج", "x\"y",
                         "آقا سید", "\udcff", "نام\u200c", "\u200cنام", "علي", "كريمي", "موسى", "علی  رضا",
                         "علی\u200c رضا", "علی \u200cرضا", "علی\u200c\u200cرضا", "٢", "نر\ufffdس", "  ",
                         "\u200c", "a" * 63 + " ", "\u00a0علی"])
codes = st.one_of(st.integers(1, 999_999).map(code), st.sampled_from(["1111111111", "0012345678", "۰۰۱۲۳۴۵۶۷۹",
                                                                      "12345678", "abc", "", "001-234567-9",
                                                                      code(5)[2:], code(5)[1:]]))
dates = st.sampled_from(["1360/05/12", "1405/03/01", "1405/03/02", "1404/12/30", "1403/12/30", "1360/00/12",
                         "۱۳۶۰/۰۵/۱۲", "1360/5/12", "13600512", "", "1387/03/01", "1990/05/01", "2001-03-04",
                         "1190/01/01", "1500/01/01", "1899/01/01"])
genders = st.sampled_from(["male", "female", "Male", " male", "x", "FEMALE", " Female "])
statuses = st.sampled_from(["alive", "deceased", "suspended", "dead", "alive ", "Alive", "DECEASED"])


def _slow(checker: RowChecker, line: str) -> object:
    fields = split_line(line)
    return RowProblem.BAD_CSV if fields is None else checker.check(fields)


@settings(max_examples=2500, deadline=None)
@given(codes, names, names, names, dates, genders, statuses, st.sampled_from(["", "\r", ",extra"]), st.booleans())
def test_fast_and_field_paths_agree(c: str, first: str, last: str, father: str, born: str, gender: str,
                                    status: str, tail: str, pad: bool) -> None:
    line = ",".join((c, first, last, father, born, gender, status)) + tail
    slow_checker = RowChecker(RULES, pad)
    expected = _slow(slow_checker, line)
    careful = RowChecker(RULES, pad)
    assert careful.check_line_careful(line) == expected
    assert (careful.padded, careful.normalised) == (slow_checker.padded, slow_checker.normalised)
    # The plain fast path is used only on chunks without doubled spaces or ZWNJs; there it agrees too.
    if not any(gap in line.encode("utf-8", "surrogateescape") for gap in GAP_BYTES):
        fast = RowChecker(RULES, pad)
        assert fast.check_line(line) == expected
        assert (fast.padded, fast.normalised) == (slow_checker.padded, slow_checker.normalised)


def test_quoted_fields_are_read_and_a_field_may_not_span_lines() -> None:
    checker = RowChecker(RULES)
    good = checker.check_line(f'"{code(5)}","علی, رضا",محمدی,حسن,1360/05/12,male,alive')
    assert not isinstance(good, RowProblem) and good[0] == code(5)
    assert checker.check_line(f'{code(5)},"علی,محمدی,حسن,1360/05/12,male,alive') is RowProblem.BAD_CSV


def test_names_are_written_in_persian_letters_and_spaced_once() -> None:
    # Expected values written out as code points: ی U+06CC, ک U+06A9, ZWNJ U+200C, Persian digits U+06F0…
    assert normalise_name("\u0639\u0644\u064a") == "\u0639\u0644\u06cc"                       # علي -> علی
    assert normalise_name("\u0645\u0648\u0633\u0649") == "\u0645\u0648\u0633\u06cc"           # موسى -> موسی
    assert normalise_name("\u0643\u0631\u064a\u0645\u064a") == "\u06a9\u0631\u06cc\u0645\u06cc"
    assert normalise_name("\u200c \u0639\u0644\u06cc\u200c ") == "\u0639\u0644\u06cc"
    assert normalise_name("\u0639\u0644\u06cc  \u0631\u0636\u0627") == "\u0639\u0644\u06cc \u0631\u0636\u0627"
    assert normalise_name("\u0639\u0644\u06cc\u200c \u0631\u0636\u0627") == "\u0639\u0644\u06cc \u0631\u0636\u0627"
    assert normalise_name("\u0641\u0627\u0637\u0645\u0647\u200c\u200c\u0632\u0647\u0631\u0627") == \
        "\u0641\u0627\u0637\u0645\u0647\u200c\u0632\u0647\u0631\u0627"
    assert normalise_name("\u0662") == "\u06f2"
    # Teh marbuta and an inner ZWNJ are spelling, not noise: they stay.
    assert normalise_name("\u0641\u0627\u0637\u0645\u0629") == "\u0641\u0627\u0637\u0645\u0629"
    assert normalise_name("\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627") == \
        "\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627"
