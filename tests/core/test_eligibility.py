"""Verdicts: the answer staff see for a person on election day."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.eligibility import ElectionRules, Verdict, eligible_from, final_verdict, registry_verdict
from kiosk.core.jalali import JalaliDate, is_leap
from kiosk.core.voter import CivilStatus, Gender, VoterRecord

J = JalaliDate
ELECTION = ElectionRules(day=J(1404, 8, 15))


def person(born: JalaliDate, status: CivilStatus = CivilStatus.ALIVE) -> VoterRecord:
    return VoterRecord("زهرا", "محمدی", "علی", born, Gender.FEMALE, status)


def test_eighteenth_birthday_on_election_day_counts() -> None:
    voter = person(J(1386, 8, 15))
    assert registry_verdict(voter, ELECTION) is Verdict.ELIGIBLE
    assert eligible_from(voter, ELECTION) == ELECTION.day


def test_one_day_short_of_eighteen_is_underage() -> None:
    voter = person(J(1386, 8, 16))
    assert registry_verdict(voter, ELECTION) is Verdict.UNDERAGE
    assert eligible_from(voter, ELECTION) == J(1404, 8, 16)


def test_long_past_eighteen_is_eligible() -> None:
    assert registry_verdict(person(J(1340, 1, 1)), ELECTION) is Verdict.ELIGIBLE


def test_born_on_election_day_is_underage() -> None:
    assert registry_verdict(person(ELECTION.day), ELECTION) is Verdict.UNDERAGE


def test_1386_has_no_esfand_30_so_the_leap_case_is_1387() -> None:
    assert not is_leap(1386) and is_leap(1387) and not is_leap(1405)
    with pytest.raises(ValueError):
        J(1386, 12, 30)


@pytest.mark.parametrize(("day", "verdict"), [
    (J(1405, 12, 28), Verdict.UNDERAGE),
    (J(1405, 12, 29), Verdict.UNDERAGE),  # last day of 1405, which has no Esfand 30
    (J(1406, 1, 1), Verdict.ELIGIBLE),
])
def test_esfand_30_born_in_a_leap_year(day: JalaliDate, verdict: Verdict) -> None:
    voter = person(J(1387, 12, 30))
    assert registry_verdict(voter, ElectionRules(day)) is verdict
    assert eligible_from(voter, ElectionRules(day)) == J(1406, 1, 1)


@pytest.mark.parametrize(("day", "verdict"), [
    (J(1404, 12, 28), Verdict.UNDERAGE),
    (J(1404, 12, 29), Verdict.ELIGIBLE),
    (J(1405, 1, 1), Verdict.ELIGIBLE),
])
def test_esfand_29_born_in_1386(day: JalaliDate, verdict: Verdict) -> None:
    assert registry_verdict(person(J(1386, 12, 29)), ElectionRules(day)) is verdict


def test_esfand_30_born_in_1383_votes_from_farvardin_1402() -> None:
    leap_born = person(J(1383, 12, 30))  # 18 in 1401, which is not leap
    assert not is_leap(1401)
    assert registry_verdict(leap_born, ElectionRules(J(1401, 12, 29))) is Verdict.UNDERAGE
    assert registry_verdict(leap_born, ElectionRules(J(1402, 1, 1))) is Verdict.ELIGIBLE


def test_every_esfand_30_born_reaches_18_on_farvardin_1() -> None:
    """Two leap years are never 18 years apart in this era, so the Farvardin 1 rule always applies."""
    leap_years = [y for y in range(1300, 1420) if is_leap(y)]
    assert len(leap_years) > 25
    for y in leap_years:
        assert eligible_from(person(J(y, 12, 30)), ElectionRules(J(1420, 1, 1))) == J(y + 19, 1, 1)


@pytest.mark.parametrize("born", [J(1395, 1, 1), J(1386, 8, 16), J(1350, 1, 1)])
def test_deceased_outranks_every_age(born: JalaliDate) -> None:
    assert registry_verdict(person(born, CivilStatus.DECEASED), ELECTION) is Verdict.DECEASED


@pytest.mark.parametrize("born", [J(1395, 1, 1), J(1386, 8, 16), J(1350, 1, 1)])
def test_suspended_outranks_every_age(born: JalaliDate) -> None:
    assert registry_verdict(person(born, CivilStatus.SUSPENDED), ELECTION) is Verdict.SUSPENDED


def test_not_in_the_registry() -> None:
    assert registry_verdict(None, ELECTION) is Verdict.NOT_FOUND
    assert final_verdict(None, ELECTION, already_voted=False) is Verdict.NOT_FOUND


def test_a_person_the_registry_lacks_but_the_representative_approved_has_voted_once_checked_in() -> None:
    assert final_verdict(None, ELECTION, already_voted=True) is Verdict.ALREADY_VOTED


@pytest.mark.parametrize(("record", "expected"), [
    (person(J(1360, 1, 1)), Verdict.ALREADY_VOTED),
    (person(J(1390, 1, 1)), Verdict.UNDERAGE),
    (person(J(1360, 1, 1), CivilStatus.DECEASED), Verdict.DECEASED),
    (person(J(1360, 1, 1), CivilStatus.SUSPENDED), Verdict.SUSPENDED),
])
def test_already_voted_only_for_someone_otherwise_eligible(record: VoterRecord, expected: Verdict) -> None:
    assert final_verdict(record, ELECTION, already_voted=True) is expected


def test_not_yet_voted_stays_eligible() -> None:
    assert final_verdict(person(J(1360, 1, 1)), ELECTION, already_voted=False) is Verdict.ELIGIBLE


def test_min_age_comes_from_the_rules() -> None:
    voter = person(J(1388, 8, 15))
    assert registry_verdict(voter, ELECTION) is Verdict.UNDERAGE
    assert registry_verdict(voter, ElectionRules(ELECTION.day, min_age=16)) is Verdict.ELIGIBLE


@st.composite
def jalali_dates(draw: st.DrawFn) -> JalaliDate:
    year = draw(st.integers(1300, 1420))
    month = draw(st.integers(1, 12))
    last = 31 if month <= 6 else 30 if month <= 11 else 30 if is_leap(year) else 29
    return J(year, month, draw(st.integers(1, last)))


@given(jalali_dates(), jalali_dates())
def test_eligible_exactly_from_eligible_from(born: JalaliDate, day: JalaliDate) -> None:
    voter, rules = person(born), ElectionRules(day)
    expected = Verdict.ELIGIBLE if day >= eligible_from(voter, rules) else Verdict.UNDERAGE
    assert registry_verdict(voter, rules) is expected
