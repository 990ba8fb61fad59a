"""Jalali dates: parsing what the registry and staff write, leap years, and the age rule."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.jalali import (
    JalaliDate,
    date_of_age,
    format_en,
    format_fa,
    full_years,
    is_leap,
    parse_jalali,
    persian_digits,
)

J = JalaliDate


def day_before(day: JalaliDate) -> JalaliDate:
    return JalaliDate.from_gregorian(day.to_gregorian() - dt.timedelta(days=1))


def day_after(day: JalaliDate) -> JalaliDate:
    return JalaliDate.from_gregorian(day.to_gregorian() + dt.timedelta(days=1))


@pytest.mark.parametrize("text", [
    "1403/12/30", "۱۴۰۳/۱۲/۳۰", "١٤٠٣/١٢/٣٠", "۱۴۰۳/12/٣٠", "  1403/12/30 ",
])
def test_parse_in_every_digit_script(text: str) -> None:
    assert parse_jalali(text) == J(1403, 12, 30)


def test_single_digit_month_and_day_are_read() -> None:
    assert parse_jalali("1403/1/5") == J(1403, 1, 5)
    assert str(J(1403, 1, 5)) == "1403/01/05"


@pytest.mark.parametrize("text", [
    "1403/00/10", "1403/10/00", "1403/00/00", "۱۴۰۳/۰۰/۱۰", "0000/01/01",
])
def test_zero_month_day_or_year_is_refused(text: str) -> None:
    assert parse_jalali(text) is None


@pytest.mark.parametrize("text", [
    "1403/13/01", "1403/01/32", "1403/07/31", "1403/11/31", "1404/12/30",
])
def test_days_that_do_not_exist_are_refused(text: str) -> None:
    assert parse_jalali(text) is None


@pytest.mark.parametrize("text", ["1403/06/31", "1403/07/30", "1404/12/29"])
def test_last_days_of_months_exist(text: str) -> None:
    assert parse_jalali(text) is not None


@pytest.mark.parametrize("text", [
    "", "1403-12-30", "14031230", "1403/12", "03/12/30", "1403/12/30/1", "a403/12/30",
    "1403/1a/30", "1403/012/0030x", "1403//30", "14030/12/30",
])
def test_malformed_dates_are_refused(text: str) -> None:
    assert parse_jalali(text) is None


def test_1403_is_leap_and_has_esfand_30() -> None:
    assert is_leap(1403)
    assert parse_jalali("1403/12/30") == J(1403, 12, 30)
    assert J(1403, 12, 30).to_gregorian() == dt.date(2025, 3, 20)


def test_1404_is_not_leap_and_has_no_esfand_30() -> None:
    assert not is_leap(1404)
    assert parse_jalali("1404/12/30") is None
    with pytest.raises(ValueError):
        J(1404, 12, 30)


def test_leap_years_around_now() -> None:
    leap = [y for y in range(1395, 1410) if is_leap(y)]
    assert leap == [1395, 1399, 1403, 1408]


def test_gregorian_conversion() -> None:
    assert J(1403, 1, 1).to_gregorian() == dt.date(2024, 3, 20)
    assert J(1404, 1, 1).to_gregorian() == dt.date(2025, 3, 21)
    assert JalaliDate.from_gregorian(dt.date(2026, 11, 25)) == J(1405, 9, 4)


def test_dates_order_chronologically() -> None:
    assert J(1403, 12, 30) < J(1404, 1, 1) < J(1404, 1, 2) < J(1404, 2, 1)


@pytest.mark.parametrize(("on", "years"), [
    (J(1404, 5, 9), 17), (J(1404, 5, 10), 18), (J(1404, 5, 11), 18), (J(1405, 5, 9), 18),
])
def test_full_years_around_the_18th_birthday(on: JalaliDate, years: int) -> None:
    assert full_years(J(1386, 5, 10), on) == years


def test_full_years_is_zero_on_the_day_of_birth() -> None:
    assert full_years(J(1404, 3, 3), J(1404, 3, 3)) == 0
    assert full_years(J(1404, 3, 3), J(1405, 3, 2)) == 0


def test_esfand_30_birth_completes_the_year_on_farvardin_1_of_a_common_year() -> None:
    born = J(1387, 12, 30)
    assert is_leap(1387) and not is_leap(1405)
    assert full_years(born, J(1405, 12, 29)) == 17
    assert full_years(born, J(1406, 1, 1)) == 18
    assert date_of_age(born, 18) == J(1406, 1, 1)


def test_esfand_30_birth_into_a_leap_year_keeps_esfand_30() -> None:
    born = J(1399, 12, 30)
    assert full_years(born, J(1403, 12, 29)) == 3
    assert full_years(born, J(1403, 12, 30)) == 4
    assert date_of_age(born, 4) == J(1403, 12, 30)


def test_date_of_age_of_an_ordinary_birthday() -> None:
    assert date_of_age(J(1386, 5, 10), 18) == J(1404, 5, 10)
    assert date_of_age(J(1386, 12, 29), 18) == J(1404, 12, 29)


@st.composite
def jalali_dates(draw: st.DrawFn, lo: int = 1300, hi: int = 1420) -> JalaliDate:
    year = draw(st.integers(lo, hi))
    month = draw(st.integers(1, 12))
    last = 31 if month <= 6 else 30 if month <= 11 else 30 if is_leap(year) else 29
    return J(year, month, draw(st.integers(1, last)))


@given(jalali_dates(), st.integers(0, 120))
def test_date_of_age_is_the_first_day_with_that_many_years(born: JalaliDate, years: int) -> None:
    reached = date_of_age(born, years)
    assert full_years(born, reached) == years
    if years > 0:
        assert full_years(born, day_before(reached)) == years - 1


@given(jalali_dates(), jalali_dates())
def test_full_years_never_decreases_and_grows_by_at_most_one_a_day(born: JalaliDate, on: JalaliDate) -> None:
    if on < born:
        on, born = born, on
    nxt = day_after(on)
    assert full_years(born, nxt) - full_years(born, on) in (0, 1)


@given(jalali_dates())
def test_str_parses_back_in_any_digit_script(day: JalaliDate) -> None:
    assert parse_jalali(str(day)) == day
    assert parse_jalali(persian_digits(str(day))) == day


def test_persian_display() -> None:
    assert persian_digits(1405) == "۱۴۰۵"
    assert persian_digits("12/30") == "۱۲/۳۰"
    assert format_fa(J(1405, 9, 4)) == "۴ آذر ۱۴۰۵"
    assert format_en(J(1405, 9, 4)) == "4 Azar 1405"
    assert format_fa(J(1403, 12, 30)) == "۳۰ اسفند ۱۴۰۳"
