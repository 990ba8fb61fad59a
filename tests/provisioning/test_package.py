"""Package build: the figures HQ reports, input forms the registry really sends, every bad row, and no personal data in the package."""
from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from helpers import ELECTION_DAY, ELECTION_TOML, HEADER, PEOPLE, Person, World, code, write_csv, write_election
from kiosk.cli import main as kiosk_main
from kiosk.trust import certs, manifest
from kiosk.trust.canonical import canonical_json
from provisioning import registry_build
from provisioning.authority import AuthorityRefused, load_election_toml
from provisioning.device import install
from provisioning.package import BuildResult, build_package

_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _build(world: World, name: str = "PKG", skip_invalid: bool = False, election: Path | None = None,
           workers: int | None = None, **kw: Any) -> BuildResult:
    election = election or world.election
    return build_package(world.authority, load_election_toml(election), election.parent, world.voters,
                         world.root / name, skip_invalid, workers, **kw)


def _write_raw(path: Path, rows: list[bytes], prefix: bytes = b"") -> None:
    path.write_bytes(prefix + b"\n".join([HEADER.encode(), *rows]) + b"\n")


def _people_rows() -> list[bytes]:
    return [p.row().encode() for p in PEOPLE.values()]


def _leftovers(parent: Path, name: str = "PKG") -> list[str]:
    """Anything a build left next to its output folder: the folder itself or a staging copy."""
    return sorted(p.name for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}.building-"))


def _verdict(state: Path, raw: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert kiosk_main(["check", "--state", str(state), raw]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _install(world: World, state: Path, cert: Path, pkg: Path) -> None:
    install(state, pkg, cert, world.authority.folder / "authority.crt")
    world.unlock_state(state)


def _figures(result: BuildResult) -> tuple[int, ...]:
    f = result.figures
    return (f.voters, f.eligible, f.underage, f.deceased, f.suspended, f.rejected)


def test_figures_match_the_people(world: World) -> None:
    result = _build(world)
    assert result.package == world.root / "PKG" and result.rejects == []
    # voters, eligible (incl. the birthday today), underage (incl. one day short), deceased, suspended, rejected
    assert _figures(result) == (6, 2, 2, 1, 1, 0)
    assert result.report is None and not (world.authority.folder / "reports").exists()


def test_a_birthday_on_election_day_counts_as_eligible_and_the_day_after_does_not(world: World) -> None:
    write_csv(world.voters, [PEOPLE["birthday_today"].row(), PEOPLE["one_day_short"].row()])
    assert _figures(_build(world)) == (2, 1, 1, 0, 0, 0)


def test_a_byte_order_mark_is_tolerated(world: World) -> None:
    _write_raw(world.voters, _people_rows(), prefix=b"\xef\xbb\xbf")
    result = _build(world)
    assert result.package is not None and result.rejects == []
    assert _figures(result) == (6, 2, 2, 1, 1, 0)


def test_persian_and_arabic_digits_and_dashes_are_read_as_the_same_person(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    adult, child = code(7), code(8)
    persian_code = f"{adult[:3]}-{adult[3:9]}-{adult[9]}".translate(_PERSIAN)
    arabic_code = f"{child[:3]} {child[3:9]} {child[9]}".translate(_ARABIC)
    write_csv(world.voters, [
        Person(persian_code, born="1360/05/12".translate(_PERSIAN)).row(),
        Person(arabic_code, born="1390/01/01".translate(_ARABIC), gender="male").row(),
    ])
    state, cert = world.device("k1")
    result = _build(world)
    assert result.rejects == [] and _figures(result) == (2, 1, 1, 0, 0, 0)
    _install(world, state, cert, world.root / "PKG")
    found = _verdict(state, adult, capsys)
    assert found["verdict"] == "eligible" and found["birth_date"] == "1360/05/12"
    found = _verdict(state, child, capsys)
    assert found["verdict"] == "underage" and found["eligible_on"] == "1408/01/01"


_C = code(7)
_GOOD = Person(_C, "نرگس", "نوری", "یوسف", "1365/07/07")

BAD_ROWS = [
    pytest.param(f"{_C},نرگس,نوری,یوسف,1365/07/07,female".encode(), "wrong number of fields", [8], id="field-count"),
    pytest.param(dataclasses.replace(_GOOD, code=_C[:9] + str((int(_C[9]) + 1) % 10)).row().encode(),
                 "invalid national code", [8], id="bad-checksum"),
    pytest.param(dataclasses.replace(_GOOD, first="").row().encode(), "empty, overlong or malformed name", [8],
                 id="empty-name"),
    pytest.param(dataclasses.replace(_GOOD, last="نو\x1fری").row().encode(), "empty, overlong or malformed name",
                 [8], id="control-char-in-name"),
    pytest.param(dataclasses.replace(_GOOD, born="1404/12/30").row().encode(),
                 "birth date is not a Jalali YYYY/MM/DD date", [8], id="esfand-30-of-common-year"),
    pytest.param(dataclasses.replace(_GOOD, born="1365/00/07").row().encode(),
                 "birth date is not a Jalali YYYY/MM/DD date", [8], id="month-00"),
    pytest.param(dataclasses.replace(_GOOD, born="1405/03/02").row().encode(), "birth date after the election day",
                 [8], id="born-after-election-day"),
    pytest.param(dataclasses.replace(_GOOD, gender="x").row().encode(), "gender is not male or female", [8],
                 id="gender-x"),
    pytest.param(dataclasses.replace(_GOOD, status="dead").row().encode(),
                 "status is not alive, deceased or suspended", [8], id="status-dead"),
    pytest.param(dataclasses.replace(_GOOD, code=PEOPLE["eligible"].code).row().encode(),
                 "national code appears more than once", [2, 8], id="duplicate-code-rejects-both"),
    pytest.param(dataclasses.replace(_GOOD, code=PEOPLE["eligible"].code.translate(_PERSIAN)).row().encode(),
                 "national code appears more than once", [2, 8], id="duplicate-in-persian-digits"),
    pytest.param(f"{_C},\xff\xfe".encode("latin-1") + ",نوری,یوسف,1365/07/07,female,alive".encode(),
                 "empty, overlong or malformed name", [8], id="non-utf8-name"),
    pytest.param(dataclasses.replace(_GOOD, first="نر\x00س").row().encode(), "empty, overlong or malformed name",
                 [8], id="a-stray-nul-is-a-bad-row-not-a-utf-16-file"),
    pytest.param(dataclasses.replace(_GOOD, first="نر\ufffdس").row().encode(), "empty, overlong or malformed name",
                 [8], id="replacement-character-of-a-broken-conversion"),
    pytest.param(dataclasses.replace(_GOOD, code=code(7, office=0)[2:]).row().encode(),
                 "national code has 8 or 9 digits: a code that lost a digit can pass the checksum and be filed "
                 "under another person; if a spreadsheet dropped leading zeros, build with --pad-codes", [8],
                 id="eight-digit-code-without-pad-codes"),
    pytest.param(dataclasses.replace(_GOOD, born="1990/05/01").row().encode(),
                 "birth date looks Gregorian, not Jalali (as a Jalali date: 1369/02/11)", [8],
                 id="gregorian-birth-date"),
    pytest.param(dataclasses.replace(_GOOD, born="2001-03-04").row().encode(),
                 "birth date looks Gregorian, not Jalali (as a Jalali date: 1379/12/14)", [8],
                 id="gregorian-birth-date-with-dashes"),
    pytest.param(dataclasses.replace(_GOOD, born="۱۹۹۰/۰۵/۰۱").row().encode(),
                 "birth date looks Gregorian, not Jalali (as a Jalali date: 1369/02/11)", [8],
                 id="gregorian-birth-date-in-persian-digits"),
    pytest.param(dataclasses.replace(_GOOD, born="1190/01/01").row().encode(),
                 "birth year is not a plausible Jalali year (1280–1499)", [8], id="implausible-jalali-year"),
]


@pytest.mark.parametrize("row, reason, lines", BAD_ROWS)
def test_a_bad_row_refuses_the_build_leaves_nothing_and_is_reported(
        world: World, row: bytes, reason: str, lines: list[int]) -> None:
    _write_raw(world.voters, [*_people_rows(), row])
    result = _build(world, max_rejected=1.0)   # one bad row in seven: the share rule has its own tests
    assert result.package is None
    assert _leftovers(world.root) == []
    assert [(r.line, r.reason) for r in result.rejects] == [(n, reason) for n in lines]
    assert result.figures.rejected == len(lines)
    reports = list((world.authority.folder / "reports").glob("*-report.txt"))
    assert reports == [result.report]
    text = reports[0].read_text("utf-8").splitlines()
    rows = "1 rejected row" if len(lines) == 1 else f"{len(lines)} rejected rows"
    assert text[0] == f"build refused: {rows}; nothing was written"
    assert json.loads(text[1])["rejected"] == len(lines)
    assert text[2:] == [f"line {n}: {reason}" for n in lines]
    assert not (world.authority.folder / "registry-keys").exists()


def test_skip_invalid_builds_without_the_rejects_and_keeps_them_out_of_the_package(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    dup = dataclasses.replace(PEOPLE["eligible"], first="جواد")
    _write_raw(world.voters, [*_people_rows(), dataclasses.replace(_GOOD, gender="x").row().encode(),
                              dup.row().encode()])
    state, cert = world.device("k1")
    result = _build(world, skip_invalid=True, max_rejected=0.5)
    assert result.package == world.root / "PKG"
    assert [(r.line, r.problem.name) for r in result.rejects] == [
        (2, "DUPLICATE_CODE"), (8, "BAD_GENDER"), (9, "DUPLICATE_CODE")]
    # The duplicated eligible person and the bad-gender row are gone from every figure.
    assert _figures(result) == (5, 1, 2, 1, 1, 3)
    reports = world.authority.folder / "reports"
    assert result.rejects_file is not None and result.rejects_file.parent == reports
    assert stat.S_IMODE(result.rejects_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(reports.stat().st_mode) == 0o700
    rejected = result.rejects_file.read_text("utf-8").splitlines()
    assert rejected[0] == "line,reason,row" and len(rejected) == 4
    assert rejected[2] == f"8,BAD_GENDER,{dataclasses.replace(_GOOD, gender='x').row()}"
    package_bytes = b"".join(p.read_bytes() for p in result.package.rglob("*") if p.is_file())
    assert _C.encode() not in package_bytes and "جواد".encode() not in package_bytes
    assert not any("reject" in p.name or "report" in p.name for p in result.package.rglob("*"))
    _install(world, state, cert, result.package)
    assert _verdict(state, PEOPLE["eligible"].code, capsys)["verdict"] == "not_found"
    assert _verdict(state, _C, capsys)["verdict"] == "not_found"
    assert _verdict(state, PEOPLE["birthday_today"].code, capsys)["verdict"] == "eligible"


def test_a_build_cut_into_many_chunks_finds_the_same_lines_and_figures(
        world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Large extracts are split across processes: line numbers and duplicates must survive the split."""
    extra = [Person(code(n), born="1370/01/01").row().encode() for n in range(10, 40)]
    dup = dataclasses.replace(PEOPLE["eligible"], first="جواد").row().encode()
    _write_raw(world.voters, [*_people_rows(), dataclasses.replace(_GOOD, gender="x").row().encode(), *extra, dup])
    monkeypatch.setattr(registry_build, "CHUNK_BYTES", 100)
    assert len(registry_build.plan_chunks(world.voters)[0]) > 5
    state, cert = world.device("k1")
    result = _build(world, skip_invalid=True, workers=3, max_rejected=0.1)
    assert [(r.line, r.problem.name) for r in result.rejects] == [
        (2, "DUPLICATE_CODE"), (8, "BAD_GENDER"), (39, "DUPLICATE_CODE")]
    assert _figures(result) == (35, 31, 2, 1, 1, 3)
    assert result.package is not None
    _install(world, state, cert, result.package)
    assert _verdict(state, code(39), capsys)["verdict"] == "eligible"
    assert _verdict(state, PEOPLE["eligible"].code, capsys)["verdict"] == "not_found"


def test_a_code_also_on_a_malformed_row_is_still_a_duplicate(world: World) -> None:
    _write_raw(world.voters, [*_people_rows(), dataclasses.replace(PEOPLE["eligible"], gender="x").row().encode()])
    result = _build(world, skip_invalid=True, max_rejected=0.5)
    assert sorted(r.line for r in result.rejects) == [2, 8]
    assert result.figures.eligible == 1


def test_a_wrong_header_is_refused_and_nothing_is_written(world: World) -> None:
    write_csv(world.voters, [p.row() for p in PEOPLE.values()], header="code,first,last,father,born,gender,status")
    with pytest.raises(AuthorityRefused, match="header must be"):
        _build(world)
    assert _leftovers(world.root) == []
    assert not (world.authority.folder / "reports").exists()
    assert not (world.authority.folder / "registry-keys").exists()


def test_an_election_file_of_another_election_is_refused(world: World) -> None:
    other = write_election(world.root / "other", "other-1405")
    with pytest.raises(AuthorityRefused, match="not this authority's election"):
        _build(world, election=other)
    assert _leftovers(world.root) == []


def test_an_existing_output_folder_is_refused_and_left_alone(world: World) -> None:
    out = world.root / "PKG"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    with pytest.raises(AuthorityRefused, match="already exists"):
        _build(world)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "earlier work"
    assert _leftovers(world.root) == ["PKG"]


def test_the_package_holds_no_national_code_and_no_name_in_clear(world: World) -> None:
    world.device("k1")
    pkg = world.package()
    files = [p for p in pkg.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"registry.sqlite", "election.json", "manifest.json"}
    for path in files:
        data = path.read_bytes()
        for person in PEOPLE.values():
            assert person.code.encode() not in data, path.name
            assert person.code.translate(_PERSIAN).encode() not in data, path.name
            for name in (person.first, person.last, person.father):
                assert name.encode() not in data, (path.name, name)


def _anchor_election(world: World, anchors: str) -> None:
    toml = ELECTION_TOML.format(id="test-1405", day=ELECTION_DAY)
    toml = toml.replace("[[branches]]", f"card_trust_anchors = [{anchors}]\n\n[[branches]]", 1)
    world.election.write_text(toml, encoding="utf-8")


def test_the_manifest_covers_every_file_but_itself(world: World) -> None:
    _, ca = certs.new_authority("nid", "national id ca", load_election_toml(world.election).day.to_gregorian())
    (world.election.parent / "nid-ca.pem").write_bytes(certs.cert_pem(ca))
    _anchor_election(world, '"nid-ca.pem"')
    world.device("k1")
    world.device("rep", certs.Role.REP, ("1001", "1002"))
    pkg = world.package()
    public = world.authority.cert.public_key()
    signed = manifest.load_verified((pkg / manifest.MANIFEST).read_bytes(), (pkg / manifest.SIGNATURE).read_bytes(),
                                    public)  # type: ignore[arg-type]
    on_disk = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()}
    assert set(signed.files) == on_disk - {manifest.MANIFEST, manifest.SIGNATURE}
    assert "anchors/nid-ca.pem" in signed.files
    assert len([n for n in signed.files if n.startswith("envelopes/")]) == 2
    manifest.check_files(pkg, signed)
    assert signed.election_id == "test-1405"
    settings = json.loads((pkg / "election.json").read_text("utf-8"))
    assert settings["card_trust_anchors"] == ["anchors/nid-ca.pem"]


def test_an_unreadable_card_trust_anchor_is_refused(world: World) -> None:
    (world.election.parent / "nid-ca.pem").write_text("not a certificate")
    _anchor_election(world, '"nid-ca.pem"')
    with pytest.raises(AuthorityRefused, match="card trust anchor nid-ca.pem"):
        _build(world)
    assert _leftovers(world.root) == []


def _signed(world: World, pkg: Path) -> manifest.Manifest:
    public = world.authority.cert.public_key()
    return manifest.load_verified((pkg / manifest.MANIFEST).read_bytes(), (pkg / manifest.SIGNATURE).read_bytes(),
                                  public)  # type: ignore[arg-type]


def test_each_build_of_an_authority_gets_the_next_number_signed_in_its_manifest(world: World) -> None:
    assert [_signed(world, world.package(name)).build for name in ("A", "B", "C")] == [1, 2, 3]
    good = world.voters.read_bytes()
    _write_raw(world.voters, [*_people_rows(), b"0000000000,x,y,z,1360/01/01,male,alive"])
    assert _build(world, "REFUSED").package is None   # a refused build is no package and takes no number
    world.voters.write_bytes(good)
    assert _signed(world, world.package("D")).build == 4


def test_builds_at_the_same_time_from_one_authority_folder_get_different_numbers(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda _n: world.authority.next_build(), range(40)))
    assert sorted(numbers) == list(range(1, 41))


@pytest.mark.parametrize("edit, refusal", [
    (lambda raw: raw.update(format=1) or raw.pop("build"), "manifest format 1 is not this version's"),
    (lambda raw: raw.update(build=0), "manifest is malformed"),
    (lambda raw: raw.update(build="7"), "manifest is malformed"),
    (lambda raw: raw.pop("build"), "manifest is malformed"),
])
def test_a_manifest_without_a_good_build_number_is_refused_even_when_signed(
        world: World, edit: Any, refusal: str) -> None:
    pkg = world.package()
    raw = json.loads((pkg / manifest.MANIFEST).read_bytes())
    edit(raw)
    body = canonical_json(raw)
    with pytest.raises(manifest.ManifestRefused, match=refusal):
        manifest.load_verified(body, world.authority.key.sign(body), world.authority.key.public_key())
