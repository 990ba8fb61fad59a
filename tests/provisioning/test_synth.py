"""The synthetic registry extract: valid per DESIGN, reproducible, honest summary, edge cases present."""
from __future__ import annotations

import csv
import datetime as dt
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.core.eligibility import ElectionRules, Verdict, registry_verdict
from kiosk.core.jalali import JalaliDate, date_of_age, full_years, is_leap, parse_jalali
from kiosk.core.national_code import parse_national_code
from kiosk.core.voter import CivilStatus, Gender, VoterRecord
from provisioning import synth
from provisioning.synth import SynthSummary, write_extract

HEADER = "national_code,first_name,last_name,father_name,birth_date,gender,status"
ELECTION_DAY = JalaliDate(1404, 12, 29)  # last day of a common year: the Esfand 30 rule matters
ROWS = 20_000
ZWNJ = "\u200c"
# Letters that never join to the next one: a ZWNJ after them is a spelling error.
RIGHT_JOINING = set("اآأإدذرزژوؤة")


@dataclass(frozen=True)
class Row:
    code: str
    record: VoterRecord
    raw_birth: str


def read_rows(path: Path) -> list[Row]:
    """Parse every row with kiosk.core, failing on anything DESIGN's format refuses."""
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == HEADER.split(",")
        for fields in reader:
            assert len(fields) == 7, fields
            code, first, last, father, born, gender, status = fields
            assert parse_national_code(code) == code
            birth = parse_jalali(born)
            assert birth is not None, born
            assert first and last and father
            rows.append(Row(code, VoterRecord(first, last, father, birth, Gender(gender), CivilStatus(status)), born))
    return rows


def tomorrow(day: JalaliDate) -> JalaliDate:
    return JalaliDate.from_gregorian(day.to_gregorian() + dt.timedelta(days=1))


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary, list[Row]]:
    path = tmp_path_factory.mktemp("synth") / "voters.csv"
    summary = write_extract(path, ROWS, 1404, ELECTION_DAY)
    return path, summary, read_rows(path)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv", "d.csv"))
    assert write_extract(a, 500, 7, ELECTION_DAY) == write_extract(b, 500, 7, ELECTION_DAY)
    write_extract(c, 500, 8, ELECTION_DAY)
    write_extract(d, 500, 7, JalaliDate(1405, 3, 10))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert a.read_bytes() != d.read_bytes()


def test_header_and_encoding_are_exactly_as_documented(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    path, _, rows = extract
    data = path.read_bytes()
    assert data.startswith(HEADER.encode() + b"\n")
    text = data.decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    assert text.count("\n") == len(rows) + 1 == ROWS + 1


def test_codes_are_valid_and_unique(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, _, rows = extract
    codes = [r.code for r in rows]
    assert len(set(codes)) == len(codes) == ROWS
    assert all(len(c) == 10 and c.isascii() for c in codes)
    assert any(c.startswith("00") for c in codes)  # the left-padding path gets exercised downstream


def test_no_one_is_born_after_the_election(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, _, rows = extract
    assert max(r.record.birth_date for r in rows) <= ELECTION_DAY
    assert min(r.record.birth_date for r in rows) >= JalaliDate(ELECTION_DAY.year - 101, 1, 1)


def test_a_few_birth_dates_use_persian_digits(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, _, rows = extract
    persian = [r.raw_birth for r in rows if not r.raw_birth.isascii()]
    assert 0.002 * ROWS <= len(persian) <= 0.01 * ROWS
    assert all(set(p) <= set("۰۱۲۳۴۵۶۷۸۹/") for p in persian)


def test_summary_matches_a_recount_with_the_core(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, summary, rows = extract
    rules = ElectionRules(ELECTION_DAY)
    verdicts = Counter(registry_verdict(r.record, rules) for r in rows)
    birthdays = sum(date_of_age(r.record.birth_date, 18) == ELECTION_DAY for r in rows)
    assert summary == SynthSummary(
        voters=len(rows),
        eligible=verdicts[Verdict.ELIGIBLE],
        underage=verdicts[Verdict.UNDERAGE],
        deceased=verdicts[Verdict.DECEASED],
        suspended=verdicts[Verdict.SUSPENDED],
        birthday_on_election_day=birthdays,
    )


def test_proportions_look_like_a_real_registry(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, summary, rows = extract
    assert 0.005 <= summary.deceased / ROWS <= 0.02
    assert 0.001 <= summary.suspended / ROWS <= 0.006
    assert 0.15 <= summary.underage / ROWS <= 0.35
    genders = Counter(r.record.gender for r in rows)
    assert 0.45 <= genders[Gender.FEMALE] / ROWS <= 0.55
    ages = Counter(full_years(r.record.birth_date, ELECTION_DAY) for r in rows)
    per_year = {span: sum(ages[a] for a in range(*span)) / (span[1] - span[0])
                for span in ((20, 30), (30, 45), (65, 101))}
    # The 1980s baby boom is larger than the cohort after it, and both dwarf the old.
    assert per_year[(30, 45)] > 1.2 * per_year[(20, 30)] > 3 * per_year[(65, 101)]
    assert max(ages) >= 90


def test_names_are_varied_and_spelt_the_persian_way(extract: tuple[Path, SynthSummary, list[Row]]) -> None:
    _, _, rows = extract
    male = {r.record.first_name for r in rows if r.record.gender is Gender.MALE}
    female = {r.record.first_name for r in rows if r.record.gender is Gender.FEMALE}
    surnames = {r.record.last_name for r in rows}
    fathers = {r.record.father_name for r in rows}
    assert len(male) >= 60 and len(female) >= 60 and len(surnames) >= 150
    assert not male & female
    assert not fathers & female
    names = male | female | surnames | fathers
    assert any(ZWNJ in n for n in surnames) and any(ZWNJ in n for n in male | female)
    for name in names:
        assert "ي" not in name and "ك" not in name, name  # Arabic yeh and kaf
        assert "," not in name and " " not in name and name == name.strip(ZWNJ), name
        for i, ch in enumerate(name):
            if ch == ZWNJ:
                assert name[i - 1] not in RIGHT_JOINING and name[i + 1] != ZWNJ, name


def nearest_esfand_30(day: JalaliDate) -> JalaliDate:
    """The leap-year Esfand 30 birth whose 18th birthday falls closest to the election day."""
    def distance(born: JalaliDate) -> int:
        return abs(date_of_age(born, 18).to_gregorian().toordinal() - day.to_gregorian().toordinal())
    candidates = [JalaliDate(y, 12, 30) for y in range(day.year - 25, day.year - 10) if is_leap(y)]
    return min(candidates, key=distance)


def _edge_rows(rows: list[Row], day: JalaliDate) -> dict[str, list[Row]]:
    alive = [r for r in rows if r.record.status is CivilStatus.ALIVE]
    return {
        "birthday": [r for r in alive if date_of_age(r.record.birth_date, 18) == day],
        "one_day_short": [r for r in alive if date_of_age(r.record.birth_date, 18) == tomorrow(day)],
        "esfand_30": [r for r in alive if r.record.birth_date == nearest_esfand_30(day)],
        "deceased_adult": [r for r in rows if r.record.status is CivilStatus.DECEASED
                           and full_years(r.record.birth_date, day) >= 18],
        "suspended_adult": [r for r in rows if r.record.status is CivilStatus.SUSPENDED
                            and full_years(r.record.birth_date, day) >= 18],
    }


@pytest.mark.parametrize(("seed", "day"), [
    (1, ELECTION_DAY), (2, JalaliDate(1405, 1, 1)), (3, JalaliDate(1405, 3, 10)), (4, JalaliDate(1404, 6, 31)),
])
def test_edge_cases_are_in_every_extract_of_100(tmp_path: Path, seed: int, day: JalaliDate) -> None:
    path = tmp_path / "small.csv"
    write_extract(path, 100, seed, day)
    rows = read_rows(path)
    edges = _edge_rows(rows, day)
    assert all(edges.values()), {k: len(v) for k, v in edges.items()}
    rules = ElectionRules(day)
    assert {registry_verdict(r.record, rules) for r in edges["birthday"]} == {Verdict.ELIGIBLE}
    assert {registry_verdict(r.record, rules) for r in edges["one_day_short"]} == {Verdict.UNDERAGE}
    assert {registry_verdict(r.record, rules) for r in edges["deceased_adult"]} == {Verdict.DECEASED}
    assert {registry_verdict(r.record, rules) for r in edges["suspended_adult"]} == {Verdict.SUSPENDED}


def test_esfand_30_edge_case_straddles_the_election_when_it_can(tmp_path: Path) -> None:
    """With the election on Esfand 29 of 1405, someone born 1387/12/30 is one day short."""
    day = JalaliDate(1405, 12, 29)
    path = tmp_path / "esfand.csv"
    write_extract(path, 100, 5, day)
    born = [r.record for r in read_rows(path) if r.record.birth_date == JalaliDate(1387, 12, 30)]
    assert born and registry_verdict(born[0], ElectionRules(day)) is Verdict.UNDERAGE
    assert registry_verdict(born[0], ElectionRules(tomorrow(day))) is Verdict.ELIGIBLE


def test_election_on_an_esfand_30_with_no_birthday_match_still_works(tmp_path: Path) -> None:
    """Nobody's 18th birthday can be 1403/12/30 (1385 has no Esfand 30); the extract is still valid."""
    path = tmp_path / "leap.csv"
    summary = write_extract(path, 300, 6, JalaliDate(1403, 12, 30))
    rows = read_rows(path)
    assert summary.voters == len(rows) == 300
    assert summary.birthday_on_election_day == 0
    assert _edge_rows(rows, JalaliDate(1403, 12, 30))["one_day_short"]


@pytest.mark.parametrize("voters", [0, 1, 99])
def test_small_extracts(tmp_path: Path, voters: int) -> None:
    path = tmp_path / "tiny.csv"
    summary = write_extract(path, voters, 9, ELECTION_DAY)
    assert len(read_rows(path)) == summary.voters == voters


def test_negative_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_extract(tmp_path / "x.csv", -1, 1, ELECTION_DAY)
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "voters.csv"
    path.write_text("old\n", encoding="utf-8")
    write_extract(path, 120, 1, ELECTION_DAY)
    assert path.read_text(encoding="utf-8").startswith(HEADER)
    assert [p.name for p in tmp_path.iterdir()] == ["voters.csv"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "voters.csv"
    path.write_text("old\n", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_extract(path, 120, 1, ELECTION_DAY)
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["voters.csv"]


def _position_of_repeated(d: int) -> int:
    """Where the code d·10 (prefix ddd, serial dddddd) sits in the permuted code space."""
    return (d * 111 - 1) * 999_999 + d * 111_111 - 1


def test_codes_that_would_be_ten_identical_digits_are_replaced() -> None:
    """The permutation can land on 111 111111 (checksum 1); that row must get another unique code."""
    windows = synth._windows(ELECTION_DAY)
    step = 7_654_321
    bad = _position_of_repeated(1)
    start = bad - step  # row 0 lands on it
    overrides = synth._overrides(random.Random(0), 10, step, start, ELECTION_DAY, windows)
    replacement = overrides[0].code
    assert synth._code_at(bad) == "1111111111"
    assert replacement is not None and parse_national_code(replacement) == replacement
    assert replacement not in {synth._code_at(start + (i + 1) * step) for i in range(10)}


def test_a_replacement_code_skips_another_repeated_one() -> None:
    """Replacements come from past the end; if that spot is 2222222222 too, it is skipped."""
    step = 7_654_321
    start = _position_of_repeated(1) - step
    inverse = pow(step, -1, 999 * 999_999)
    index = {d: ((_position_of_repeated(d) - start) * inverse - 1) % (999 * 999_999) for d in range(1, 10)}
    assert index[1] == 0
    voters = min(index[d] for d in range(2, 10))  # the first spare position holds a repeated code
    overrides = synth._overrides(random.Random(0), voters, step, start, ELECTION_DAY, synth._windows(ELECTION_DAY))
    replacement = overrides[0].code
    assert replacement is not None and parse_national_code(replacement) == replacement
