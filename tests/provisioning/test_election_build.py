"""`kiosk-authority package` with a carelessly written election file: exit 1, one line saying the fix, no package."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ELECTION_TOML, PEOPLE, write_csv, write_election
from provisioning.authority import Authority, load_election_toml

GOOD = ELECTION_TOML.format(id="test-1405", day="1405/03/01")
TOOL = str(Path(sys.executable).parent / "kiosk-authority")


@dataclass(frozen=True)
class Office:
    """An initialised authority and its registry extract, to build packages from election files."""

    root: Path
    authority: Path
    voters: Path

    def build(self, election: Path, out: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TOOL, "package", "--dir", str(self.authority), "--election", election.name,
                               "--voters", str(self.voters), "--out", out], cwd=self.root,
                              capture_output=True, text=True, timeout=120)

    def refused(self, name: str, data: bytes) -> str:
        """Build from `data` saved as `name`: exit 1, one line on stderr, no package; that line."""
        (self.root / name).write_bytes(data)
        done = self.build(self.root / name, f"PKG-{name}")
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert not (self.root / f"PKG-{name}").exists()
        return done.stderr.rstrip("\n")


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    root = tmp_path_factory.mktemp("office")
    Authority.init(root / "AUTH", load_election_toml(write_election(root / "config")))
    return Office(root, root / "AUTH", write_csv(root / "voters.csv", [p.row() for p in PEOPLE.values()]))


def _figures(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert done.returncode == 0 and done.stderr == "", (done.stdout, done.stderr)
    figures: dict[str, int] = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    return figures


def _with(line: str) -> bytes:
    return GOOD.replace('date = "1405/03/01"', line).encode()


@pytest.mark.parametrize("name, data, message", [
    ("greg.toml", _with('date = "2026/05/22"'),
     "greg.toml: date: '2026/05/22' looks like a Gregorian date; the election day is Jalali: date = \"1405/03/01\""),
    ("greg-dash.toml", _with('date = "2026-05-22"'),
     "greg-dash.toml: date: '2026-05-22' looks like a Gregorian date; the election day is Jalali: "
     'date = "1405/03/01"'),
    ("greg-fa.toml", _with('date = "۲۰۲۶/۰۵/۲۲"'),
     "greg-fa.toml: date: '۲۰۲۶/۰۵/۲۲' looks like a Gregorian date; the election day is Jalali: "
     'date = "1405/03/01"'),
    ("year.toml", _with('date = "1605/03/01"'),
     "year.toml: date: year 1605 is not a plausible Jalali year (1280-1499); e.g. 1405/03/01"),
    ("month.toml", _with('date = "1405/13/01"'), "month.toml: date: month 13 does not exist; a Jalali month is 1-12"),
    ("day.toml", _with('date = "1404/12/30"'), "day.toml: date: day 30 does not exist; month 12 of 1404 has 29 days"),
    ("literal.toml", _with("date = 1405-03-01"),
     'literal.toml: date: an unquoted date is read as a TOML (Gregorian) date; '
     'write the Jalali day in quotes: date = "1405/03/01"'),
    ("literal-greg.toml", _with("date = 2026-05-22"),
     'literal-greg.toml: date: an unquoted date is read as a TOML (Gregorian) date; '
     'write the Jalali day in quotes: date = "1405/03/01"'),
    ("unquoted.toml", _with("date = 1405/03/01"),
     'unquoted.toml: line 3: not valid TOML: Expected newline or end of document after a statement; '
     'text needs quotes: date = "1405/03/01"'),
    ("typo.toml", GOOD.replace("min_age = 18", "minimum_age = 16").encode(),
     "typo.toml: minimum_age: not a setting; did you mean min_age? the settings are "
     "id, name, date, min_age, constituency, card_trust_anchors, branches"),
    ("branch-typo.toml", GOOD.replace('code = "1002"', 'cod = "1002"').encode(),
     "branch-typo.toml: branches (entry 2): cod: not a setting; did you mean code? the settings are code, name"),
    ("cp1256.toml", GOOD.replace("ی", "ي").encode("cp1256"),
     "cp1256.toml: line 2 is not UTF-8: the file looks like Windows-1256 (Arabic Windows); convert it: "
     "iconv -f WINDOWS-1256 -t UTF-8 cp1256.toml > cp1256.toml.utf8 && mv cp1256.toml.utf8 cp1256.toml"),
])
def test_a_careless_election_file_is_refused_in_one_line(office: Office, name: str, data: bytes, message: str) -> None:
    assert office.refused(name, data) == f"kiosk-authority: election config {message}"


def test_the_good_file_builds_with_the_underage_counted(office: Office) -> None:
    """The reference the refusals above are measured against: on 1405/03/01 two of the six are under 18.

    With "2026/05/22" taken as a Jalali year this build used to report underage 0.
    """
    (office.root / "good.toml").write_text(GOOD, "utf-8")
    figures = _figures(office.build(office.root / "good.toml", "PKG-GOOD"))
    assert (figures["voters"], figures["eligible"], figures["underage"]) == (6, 2, 2)


def test_a_utf8_file_with_a_bom_builds(office: Office) -> None:
    (office.root / "bom.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert _figures(office.build(office.root / "bom.toml", "PKG-BOM"))["underage"] == 2


@pytest.mark.parametrize("codec, named", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE")])
def test_a_utf16_file_is_refused_and_the_command_shown_converts_it(office: Office, codec: str, named: str) -> None:
    """Notepad's "Unicode" save: refused with an iconv line that, pasted into a shell, makes a file that builds."""
    name = f"{codec}.toml"
    line = office.refused(name, GOOD.encode(codec))
    shown = f"iconv -f {named} -t UTF-8 {name} > {name}.utf8 && mv {name}.utf8 {name}"
    assert line.startswith(f"kiosk-authority: election config {name}: the file is {named} ") and line.endswith(shown)
    subprocess.run(["sh", "-c", shown], cwd=office.root, check=True, timeout=30)
    assert _figures(office.build(office.root / name, f"PKG-{codec}"))["underage"] == 2


def test_an_election_path_that_is_a_folder_is_refused_in_one_line(office: Office) -> None:
    (office.root / "folder.toml").mkdir()
    done = office.build(office.root / "folder.toml", "PKG-folder")
    assert (done.returncode, done.stderr) == (1, "kiosk-authority: election config cannot be read: "
                                                 "folder.toml: Is a directory\n")
