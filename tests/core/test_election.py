"""Election settings: a config with any wrong field is refused with that field named."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kiosk.core.election import ConfigRefused, config_from_mapping

GOOD: dict[str, Any] = {
    "id": "majles-1405", "name": "مجلس", "date": "۱۴۰۵/۰۳/۰۱", "min_age": 18, "constituency": "تهران",
    "branches": [{"code": "1001", "name": "الف"}, {"code": "1002", "name": "ب"}],
}


def test_a_good_config_round_trips() -> None:
    config = config_from_mapping(GOOD)
    assert str(config.day) == "1405/03/01" and config.branch_codes() == {"1001", "1002"}
    assert config_from_mapping(config.to_mapping()) == config


@pytest.mark.parametrize("change, field", [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"date": "1405/13/01"}, "date"),
    ({"date": "1404/12/30"}, "date"),
    ({"min_age": "18"}, "min_age"),
    ({"min_age": True}, "min_age"),
    ({"min_age": 5}, "min_age"),
    ({"branches": []}, "branches"),
    ({"branches": [{"code": "1001", "name": "a"}, {"code": "1001", "name": "b"}]}, "branches"),
    ({"branches": [{"code": "10 01", "name": "a"}]}, "branches"),
    ({"branches": ["1001"]}, "branches"),
    ({"constituency": None}, "constituency"),
    ({"card_trust_anchors": "ca.pem"}, "card_trust_anchors"),
])
def test_a_wrong_field_is_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigRefused, match=f"^{field}"):
        config_from_mapping({**GOOD, **change})


# -- the election day: a plausible Jalali date, never a Gregorian one taken as Jalali -------------

@pytest.mark.parametrize("written", ["2026/05/22", "2026-05-22", "۲۰۲۶/۰۵/۲۲", " 2026/5/22 "])
def test_a_gregorian_election_day_is_refused_with_its_jalali_form(written: str) -> None:
    """22 May 2026 is 1 Khordad 1405; taken as Jalali year 2026 it made every newborn a voter."""
    with pytest.raises(ConfigRefused, match=r'^date: .* looks like a Gregorian date; .*date = "1405/03/01"$'):
        config_from_mapping({**GOOD, "date": written})


@pytest.mark.parametrize("written, problem", [
    ("1605/03/01", "date: year 1605 is not a plausible Jalali year (1280-1499); e.g. 1405/03/01"),
    ("1279/12/29", "date: year 1279 is not a plausible Jalali year (1280-1499); e.g. 1405/03/01"),
    ("2300/01/01", "date: year 2300 is not a plausible Jalali year (1280-1499); e.g. 1405/03/01"),
    ("1405/13/01", "date: month 13 does not exist; a Jalali month is 1-12"),
    ("1405/00/10", "date: month 0 does not exist; a Jalali month is 1-12"),
    ("1405/01/32", "date: day 32 does not exist; month 1 of 1405 has 31 days"),
    ("1405/07/31", "date: day 31 does not exist; month 7 of 1405 has 30 days"),
    ("1404/12/30", "date: day 30 does not exist; month 12 of 1404 has 29 days"),
    ("1405/03/00", "date: day 0 does not exist; month 3 of 1405 has 31 days"),
    ("1405-03-01", "date: '1405-03-01' is not a Jalali YYYY/MM/DD date such as 1405/03/01"),
    ("Khordad 1", "date: 'Khordad 1' is not a Jalali YYYY/MM/DD date such as 1405/03/01"),
])
def test_an_impossible_or_implausible_election_day_is_refused_with_the_reason(written: str, problem: str) -> None:
    with pytest.raises(ConfigRefused) as refused:
        config_from_mapping({**GOOD, "date": written})
    assert str(refused.value) == problem


def test_esfand_30_of_a_leap_year_is_an_election_day() -> None:
    assert str(config_from_mapping({**GOOD, "date": "1403/12/30"}).day) == "1403/12/30"


@pytest.mark.parametrize("literal", [dt.date(1405, 3, 1), dt.date(2026, 5, 22)])
def test_a_toml_date_literal_is_refused_with_the_quoted_jalali_form(literal: dt.date) -> None:
    """`date = 1405-03-01` without quotes is a TOML (Gregorian) date, not text."""
    with pytest.raises(ConfigRefused, match=r'^date: an unquoted date .* in quotes: date = "1405/03/01"$'):
        config_from_mapping({**GOOD, "date": literal})


# -- settings the code does not know: a typo is refused, never ignored ----------------------------

def test_a_misspelled_setting_is_refused_with_the_near_miss() -> None:
    """`minimum_age = 16` used to leave the default 18 in force without a word."""
    with pytest.raises(ConfigRefused) as refused:
        config_from_mapping({**GOOD, "minimum_age": 16})
    assert str(refused.value) == ("minimum_age: not a setting; did you mean min_age? the settings are "
                                  "id, name, date, min_age, constituency, card_trust_anchors, branches")


@pytest.mark.parametrize("key, near", [("Date", "date"), ("trust_anchors", "card_trust_anchors"),
                                       ("branch", "branches"), ("constituancy", "constituency")])
def test_near_misses_name_the_setting_meant(key: str, near: str) -> None:
    with pytest.raises(ConfigRefused, match=f"^{key}: not a setting; did you mean {near}\\? "):
        config_from_mapping({**GOOD, key: "x"})


def test_an_unrelated_key_or_table_lists_the_settings_without_a_guess() -> None:
    with pytest.raises(ConfigRefused) as refused:
        config_from_mapping({**GOOD, "election": {"id": "x"}})
    assert str(refused.value) == ("election: not a setting; the settings are "
                                  "id, name, date, min_age, constituency, card_trust_anchors, branches")


def test_a_misspelled_key_in_a_branch_is_refused_with_the_entry_named() -> None:
    branches = [{"code": "1001", "name": "الف"}, {"code": "1002", "nmae": "ب"}]
    with pytest.raises(ConfigRefused) as refused:
        config_from_mapping({**GOOD, "branches": branches})
    assert str(refused.value) == ("branches (entry 2): nmae: not a setting; did you mean name? "
                                  "the settings are code, name")
