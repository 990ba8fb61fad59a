"""National code parsing: what staff type or scan is accepted exactly when DESIGN's rule says so."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.national_code import (
    CodeProblem,
    InvalidCode,
    check_digit,
    is_valid_national_code,
    parse_national_code,
    to_ascii_digits,
    zeros_added,
)

PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
SCRIPTS = ("0123456789", PERSIAN, ARABIC_INDIC)

# Computed by hand from the DESIGN formula, e.g. 0012345679:
# 0·10+0·9+1·8+2·7+3·6+4·5+5·4+6·3+7·2 = 112, 112 mod 11 = 2, 11 − 2 = 9.
KNOWN_VALID = ("0012345679", "0084575948", "1234567891", "4445556661", "2720000019", "0123456789")


def reference_checksum_ok(code: str) -> bool:
    """DESIGN's checksum, written independently of the module under test."""
    s = sum(int(code[i]) * (10 - i) for i in range(9))
    r = s % 11
    return int(code[9]) == (r if r < 2 else 11 - r)


def problem(raw: str) -> CodeProblem | None:
    result = parse_national_code(raw)
    return result.problem if isinstance(result, InvalidCode) else None


def in_script(code: str, digits: str) -> str:
    return "".join(digits[int(c)] for c in code)


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_valid_codes_are_accepted_unchanged(code: str) -> None:
    assert reference_checksum_ok(code)
    assert parse_national_code(code) == code
    assert is_valid_national_code(code)
    assert check_digit(code[:9]) == int(code[9])


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_every_other_check_digit_is_refused(code: str) -> None:
    for d in "0123456789":
        if d != code[9]:
            assert problem(code[:9] + d) is CodeProblem.BAD_CHECKSUM


def _mutations(code: str) -> list[str]:
    return [code[:i] + d + code[i + 1:] for i in range(10) for d in "0123456789" if d != code[i]]


@pytest.mark.parametrize("code", [c for c in KNOWN_VALID if c[9] != "1"])
def test_every_single_digit_mutation_is_refused(code: str) -> None:
    accepted = [m for m in _mutations(code) if is_valid_national_code(m)]
    assert accepted == []


def test_check_digit_1_cannot_catch_every_typo_by_design() -> None:
    """Remainders 1 and 10 both give check digit 1, so DESIGN's rule lets some typos through.

    This pins the rule as specified: a 'stronger' checksum would refuse real cards.
    """
    original, typo = "7830661731", "5830661731"
    assert reference_checksum_ok(original) and reference_checksum_ok(typo)
    assert parse_national_code(original) == original
    assert parse_national_code(typo) == typo


@pytest.mark.parametrize("digits", SCRIPTS)
def test_codes_in_every_digit_script(digits: str) -> None:
    assert parse_national_code(in_script("0084575948", digits)) == "0084575948"


def test_mixed_scripts_in_one_code() -> None:
    assert parse_national_code("۰٠8۴٥7۵9٤8") == "0084575948"


@pytest.mark.parametrize("raw", [
    "008-457594-8", "008 457594 8", "  0084575948  ", "۰۰۸-۴۵۷۵۹۴-۸", "008\u00a0457\u200c594\u20138",
    "0-0-8-4-5-7-5-9-4-8",
])
def test_spaces_and_dashes_are_dropped(raw: str) -> None:
    assert parse_national_code(raw) == "0084575948"


@pytest.mark.parametrize("raw", ["84575948", "084575948", "۸۴۵۷۵۹۴۸", "12345679"])
def test_eight_and_nine_digits_are_left_padded(raw: str) -> None:
    assert parse_national_code(raw) == to_ascii_digits(raw).rjust(10, "0")


@pytest.mark.parametrize("raw, zeros", [
    ("84575948", 2), ("084575948", 1), ("۸۴۵۷۵۹۴۸", 2), (" 84575948\t", 2), ("8-457594-8", 2),
    ("0084575948", 0), ("۰۰۸۴۵۷۵۹۴۸", 0), ("008-457594-8", 0), ("4575948", 0), ("00084575948", 0), ("abc", 0), ("", 0),
])
def test_zeros_added_tells_the_registry_build_which_codes_were_padded(raw: str, zeros: int) -> None:
    """The kiosk keeps padding what staff type; the build refuses or counts it (a lost digit can pass the checksum)."""
    assert zeros_added(raw) == zeros


@pytest.mark.parametrize("raw", ["4575948", "00084575948", "12345678901", "1", "۴۵۷۵۹۴۸"])
def test_seven_and_eleven_digits_are_refused(raw: str) -> None:
    assert problem(raw) is CodeProblem.WRONG_LENGTH


@pytest.mark.parametrize("d", "0123456789")
def test_ten_identical_digits_are_refused(d: str) -> None:
    code = d * 10
    # All but 0000000000 pass the checksum, so only the explicit rule refuses them.
    assert reference_checksum_ok(code)
    assert problem(code) is CodeProblem.REPEATED_DIGIT


@pytest.mark.parametrize("prefix", ["123", "001", "999"])
def test_zero_serial_is_refused(prefix: str) -> None:
    first_nine = prefix + "000000"
    code = first_nine + str(check_digit(first_nine))
    assert reference_checksum_ok(code)
    assert problem(code) is CodeProblem.ZERO_SERIAL


def test_a_single_nonzero_serial_digit_is_enough() -> None:
    assert parse_national_code("2720000019") == "2720000019"


@pytest.mark.parametrize("raw", ["008457594a", "O084575948", "abcdefghij", "0084575948x", "۰۰۸۴۵۷۵۹۴+۸", "00845.75948"])
def test_letters_and_other_symbols_are_refused(raw: str) -> None:
    assert problem(raw) is CodeProblem.NOT_DIGITS


@pytest.mark.parametrize("raw", ["", "   ", "--", "\u200c"])
def test_empty_input_is_refused(raw: str) -> None:
    assert problem(raw) is CodeProblem.EMPTY


def test_to_ascii_digits() -> None:
    assert to_ascii_digits(PERSIAN) == "0123456789"
    assert to_ascii_digits(ARABIC_INDIC) == "0123456789"
    assert to_ascii_digits("12-34 5") == "12345"


first_nines = st.text(alphabet="0123456789", min_size=9, max_size=9)


@st.composite
def valid_codes(draw: st.DrawFn, max_prefix: int = 999) -> str:
    prefix = draw(st.integers(0, max_prefix))
    serial = draw(st.integers(1, 999_999))
    first_nine = f"{prefix:03d}{serial:06d}"
    code = first_nine + str(check_digit(first_nine))
    if code == code[0] * 10:
        code = "0084575948"
    return code


@given(first_nines)
def test_check_digit_round_trip(first_nine: str) -> None:
    d = check_digit(first_nine)
    assert 0 <= d <= 9
    code = first_nine + str(d)
    assert reference_checksum_ok(code)
    expected_ok = code != code[0] * 10 and code[3:9] != "000000"
    assert is_valid_national_code(code) is expected_ok


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_parser_agrees_with_the_reference_rule(code: str) -> None:
    expected = reference_checksum_ok(code) and code != code[0] * 10 and code[3:9] != "000000"
    assert is_valid_national_code(code) is expected


@given(valid_codes(), st.data())
def test_valid_code_survives_any_script_and_separators(code: str, data: st.DataObject) -> None:
    parts = []
    for c in code:
        parts.append(data.draw(st.sampled_from(SCRIPTS))[int(c)])
        parts.append(data.draw(st.sampled_from(["", "", " ", "-", "\u2013", "\u00a0"])))
    raw = data.draw(st.sampled_from(["", " "])) + "".join(parts) + data.draw(st.sampled_from(["", " \t"]))
    assert parse_national_code(raw) == code


@given(valid_codes(max_prefix=9), st.integers(1, 2), st.sampled_from(SCRIPTS))
def test_valid_code_with_leading_zeros_dropped(code: str, dropped: int, digits: str) -> None:
    """Tehran codes start with 00; people often type them without the zeros."""
    assert parse_national_code(in_script(code[dropped:], digits)) == code
