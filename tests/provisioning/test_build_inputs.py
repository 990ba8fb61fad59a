"""Careless extracts and flags at `kiosk-authority package`: each one builds right or is refused in one clear line.

Run through the real command where the row is about what the authority sees
(exit code and message); through build_package where what matters is what the
kiosk then holds (names, the padded code).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from disks import read_only, small_disk
from helpers import HEADER, PEOPLE, Person, World, code
from kiosk.cli import main as kiosk_main
from provisioning.authority import load_election_toml
from provisioning.device import install
from provisioning.package import STAGING_MARK, BuildResult, build_package, remove_stale_builds

_REPO = Path(__file__).resolve().parents[2]
_FIGURES = (6, 2, 2, 1, 1, 0)   # the PEOPLE registry: voters, eligible, underage, deceased, suspended, rejected


def _authority(world: World, *args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "kiosk-authority"
    if not tool.is_file():
        tool = _REPO / ".venv" / "bin" / "kiosk-authority"
    return subprocess.run([str(tool), *map(str, args)], cwd=world.root, capture_output=True, text=True,
                          timeout=timeout)


def _package(world: World, *flags: object, voters: Path | None = None, out: str = "PKG",
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return _authority(world, "package", "--dir", world.authority.folder, "--election", world.election,
                      "--voters", voters or world.voters, "--out", out, *flags, timeout=timeout)


def _figures(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert done.returncode == 0, done.stderr
    figures: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return figures


def _six(f: dict[str, int]) -> tuple[int, ...]:
    return (f["voters"], f["eligible"], f["underage"], f["deceased"], f["suspended"], f["rejected"])


def _refused(done: subprocess.CompletedProcess[str]) -> str:
    """A refusal: exit 1, no traceback, no national code of the registry in the output."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    for person in PEOPLE.values():
        assert person.code not in done.stderr + done.stdout
    return done.stderr


def _nothing_beside(world: World, out: str = "PKG") -> None:
    assert sorted(p.name for p in world.root.iterdir() if p.name.startswith((out, f".{out}."))) == []


def _write(world: World, data: bytes) -> None:
    world.voters.write_bytes(data)


def _utf8(rows: list[str], newline: str = "\n") -> str:
    return newline.join([HEADER, *rows]) + newline


def _people() -> list[str]:
    return [p.row() for p in PEOPLE.values()]


def _installed(world: World, result: BuildResult) -> Path:
    """A kiosk (enrolled before the build, so it has an envelope) with the package installed."""
    assert result.package is not None
    state, cert = world.root / "k1", world.root / "k1.crt"
    install(state, result.package, cert, world.authority.folder / "authority.crt")
    world.unlock_state(state)
    return state


def _looked_up(state: Path, raw_code: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert kiosk_main(["check", "--state", str(state), raw_code]) == 0
    found: dict[str, str] = json.loads(capsys.readouterr().out)
    return found


def _build(world: World, **kw: object) -> BuildResult:
    return build_package(world.authority, load_election_toml(world.election), world.election.parent, world.voters,
                         world.root / "PKG", **kw)  # type: ignore[arg-type]


# --- 8- and 9-digit codes ---------------------------------------------------------------------------

_TEHRAN = [code(n) for n in (11, 12)]   # 001…: a spreadsheet drops the two zeros, or a copy loses one


def test_a_code_missing_digits_is_refused_unless_padding_is_asked_for(world: World) -> None:
    _write(world, _utf8([*_people(), Person(_TEHRAN[0][2:]).row(), Person(_TEHRAN[1][1:]).row()]).encode())
    err = _refused(_package(world, "--skip-invalid"))
    assert "line 8: national code has 8 or 9 digits" in err and "line 9: national code has 8 or 9 digits" in err
    assert "filed under another person" in err and "--pad-codes" in err
    _nothing_beside(world)
    figures = _figures(_package(world, "--pad-codes"))
    assert _six(figures) == (8, 4, 2, 1, 1, 0)
    assert figures["padded_codes"] == 2


def test_a_padded_code_is_found_under_its_ten_digits(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _write(world, _utf8([*_people(), Person(_TEHRAN[0][2:], born="1360/01/01").row()]).encode())
    world.device("k1")
    result = _build(world, pad_codes=True)
    assert result.figures.padded_codes == 1 and result.rejects == []
    assert _looked_up(_installed(world, result), _TEHRAN[0], capsys)["verdict"] == "eligible"


def test_a_ten_digit_code_is_never_counted_as_padded(world: World) -> None:
    figures = _figures(_package(world, "--pad-codes"))
    assert _six(figures) == _FIGURES and figures["padded_codes"] == 0


# --- the rejected share and the empty registry -------------------------------------------------------

def _many(n: int) -> list[str]:
    return [Person(code(100 + i), born="1370/01/01").row() for i in range(n)]


def _bad_gender(n: int) -> list[str]:
    return [Person(code(900 + i), gender="x").row() for i in range(n)]


def test_more_than_one_percent_rejected_is_refused_even_with_skip_invalid(world: World) -> None:
    _write(world, _utf8([*_many(197), *_bad_gender(3)]).encode())
    err = _refused(_package(world, "--skip-invalid"))
    first = err.splitlines()[0]
    assert first.startswith("kiosk-authority: build refused: 3 of 200 rows were rejected (1.5%), "
                            "more than --max-rejected allows (1%)")
    assert "most common reason: gender is not male or female (3 rows)" in first
    assert "--skip-invalid to build" not in err
    _nothing_beside(world)
    # One percent exactly is still within the limit.
    _write(world, _utf8([*_many(198), *_bad_gender(2)]).encode())
    assert _six(_figures(_package(world, "--skip-invalid"))) == (198, 198, 0, 0, 0, 2)


@pytest.mark.parametrize("limit", ["2%", "0.02", " 2 % "])
def test_max_rejected_takes_a_percentage_or_a_fraction(world: World, limit: str) -> None:
    _write(world, _utf8([*_many(197), *_bad_gender(3)]).encode())
    figures = _figures(_package(world, "--skip-invalid", "--max-rejected", limit))
    assert _six(figures) == (197, 197, 0, 0, 0, 3)


@pytest.mark.parametrize("limit", ["1", "abc", "150%", "-1%", "nan"])
def test_a_max_rejected_that_is_not_a_share_is_bad_usage(world: World, limit: str) -> None:
    done = _package(world, "--skip-invalid", f"--max-rejected={limit}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "write a percentage such as 1% or a fraction such as 0.01" in done.stderr
    _nothing_beside(world)


def test_the_help_says_which_forms_max_rejected_takes() -> None:
    tool = Path(sys.executable).parent / "kiosk-authority"
    done = subprocess.run([str(tool), "package", "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0
    assert "a percentage such as 1% or a fraction such as 0.01 (default 1%)" in " ".join(done.stdout.split())


def test_an_empty_registry_is_never_built_whatever_the_flags(world: World) -> None:
    _write(world, _utf8(_bad_gender(5)).encode())
    err = _refused(_package(world, "--skip-invalid", "--max-rejected", "100%"))
    assert err.splitlines()[0] == ("kiosk-authority: build refused: all 5 rows were rejected (most common reason: "
                                   "gender is not male or female (5 rows)); an empty registry is never built")
    _nothing_beside(world)


def test_an_extract_with_only_a_header_is_refused_as_no_voters(world: World) -> None:
    for data in (HEADER + "\n", HEADER, HEADER + "\r\n"):
        _write(world, data.encode())
        err = _refused(_package(world, "--skip-invalid", "--max-rejected", "100%"))
        assert err == "kiosk-authority: voter extract holds no voters, only its header: nothing was built\n"
        _nothing_beside(world)
        assert not (world.authority.folder / "reports").exists()


# --- encodings and line ends -------------------------------------------------------------------------

def _as_windows_1256(text: str) -> bytes:
    """What a Windows tool writes: Arabic yeh for ی (Windows-1256 has no Persian yeh), ASCII digits."""
    return text.replace("ی", "ي").translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")).encode("cp1256")


@pytest.mark.parametrize("kind, data, message", [
    ("utf-16", _utf8(_people(), "\r\n").encode("utf-16"),
     "is UTF-16 (a spreadsheet's \"Unicode text\"), not UTF-8: convert it with "
     "`iconv -f UTF-16 -t UTF-8 voters.csv > voters-utf8.csv`, or build with --encoding utf-16"),
    ("utf-16", _utf8(_people()).encode("utf-16-le"),
     "is UTF-16 (a spreadsheet's \"Unicode text\"), not UTF-8: convert it with "
     "`iconv -f UTF-16LE -t UTF-8 voters.csv > voters-utf8.csv`, or build with --encoding utf-16"),
    ("cp1256", _as_windows_1256(_utf8(_people(), "\r\n")),
     "is Windows-1256 (Arabic Windows), not UTF-8: convert it with "
     "`iconv -f WINDOWS-1256 -t UTF-8 voters.csv > voters-utf8.csv`, or build with --encoding cp1256"),
], ids=["utf-16-with-bom", "utf-16le-without-bom", "windows-1256"])
def test_a_foreign_encoding_is_refused_up_front_and_built_when_named(
        world: World, kind: str, data: bytes, message: str) -> None:
    _write(world, data)
    err = _refused(_package(world, "--skip-invalid"))
    assert err == f"kiosk-authority: voter extract voters.csv {message}\n"
    _nothing_beside(world)
    assert not (world.authority.folder / "reports").exists()   # not one row was read as a "malformed name"
    figures = _figures(_package(world, "--encoding", kind))
    assert _six(figures) == _FIGURES
    assert [p.name for p in (world.root / "PKG").rglob("*.csv")] == []   # the converted copy is gone


def test_the_wrong_encoding_flag_is_refused_instead_of_garbling_names(world: World) -> None:
    err = _refused(_package(world, "--encoding", "cp1256"))
    assert err == ("kiosk-authority: voter extract voters.csv is already UTF-8 (its names read as Persian): "
                   "build without --encoding\n")
    err = _refused(_package(world, "--encoding", "utf-16"))
    assert "is not UTF-16" in err
    _nothing_beside(world)


def test_a_windows_1256_extract_keeps_its_names_in_persian_letters(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _write(world, _as_windows_1256(_utf8([Person(code(7), "علی", "کریمی", "یحیی", "1360/01/01", "male").row()])))
    world.device("k1")
    result = _build(world, encoding="cp1256")
    found = _looked_up(_installed(world, result), code(7), capsys)
    assert (found["first_name"], found["last_name"], found["father_name"]) == (
        "\u0639\u0644\u06cc", "\u06a9\u0631\u06cc\u0645\u06cc", "\u06cc\u062d\u06cc\u06cc")
    assert result.figures.names_normalised == 1


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_cr_only_line_ends_are_read_as_lines(world: World, bom: bytes) -> None:
    bad = Person(code(9), gender="x").row()
    _write(world, bom + _utf8([*_people(), bad], "\r").encode())
    err = _refused(_package(world))
    assert "  line 8: gender is not male or female" in err.splitlines()   # line numbers as a CR-only editor counts
    figures = _figures(_package(world, "--skip-invalid", "--max-rejected", "50%"))
    assert _six(figures) == (*_FIGURES[:5], 1)


# --- capitalised words and names ---------------------------------------------------------------------

def test_gender_and_status_in_any_case_and_with_spaces(world: World) -> None:
    rows = [dataclasses.replace(p, gender=g, status=s).row() for p, g, s in zip(
        PEOPLE.values(), ["Male", "FEMALE", " Female ", "MALE", "male", "Male"],
        ["Alive", "ALIVE ", " alive", "Alive", "Deceased", "SUSPENDED"])]
    _write(world, _utf8(rows).encode())
    assert _six(_figures(_package(world))) == _FIGURES


_ARABIC_YEH, _ALEF_MAKSURA, _ARABIC_KAF, _ZWNJ = "\u064a", "\u0649", "\u0643", "\u200c"


def test_arabic_letters_stray_zwnj_and_doubled_spaces_are_normalised_and_counted(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    messy = Person(code(7), first=f"{_ZWNJ}عل{_ARABIC_YEH}  رضا ", last=f"{_ARABIC_KAF}ر{_ARABIC_YEH}م{_ARABIC_YEH}",
                   father=f"موس{_ALEF_MAKSURA}{_ZWNJ} {_ZWNJ}", born="1360/01/01")
    already_persian = Person(code(8), first="محمد\u200cرضا", born="1360/01/01")
    _write(world, _utf8([*_people(), messy.row(), already_persian.row()]).encode())
    world.device("k1")
    done = _package(world, out="PKG-CLI")
    figures = _figures(done)
    assert figures["names_normalised"] == 1 and _six(figures) == (8, 4, 2, 1, 1, 0)
    assert "1 row had names normalised (Arabic ي ى ك as Persian ی ک, stray ZWNJs and spaces removed)" in done.stdout
    state = _installed(world, _build(world))
    found = _looked_up(state, code(7), capsys)
    assert found["first_name"] == "\u0639\u0644\u06cc \u0631\u0636\u0627"      # علی رضا, one space, no ZWNJ
    assert found["last_name"] == "\u06a9\u0631\u06cc\u0645\u06cc"             # کریمی
    assert found["father_name"] == "\u0645\u0648\u0633\u06cc"                 # موسی
    assert _looked_up(state, code(8), capsys)["first_name"] == "محمد\u200cرضا"   # an inner ZWNJ stays


# --- Gregorian dates -------------------------------------------------------------------------------

def test_a_gregorian_birth_date_is_refused_with_its_jalali_form(world: World) -> None:
    _write(world, _utf8([*_people(), Person(code(7), born="1990/05/01").row()]).encode())
    err = _refused(_package(world))
    assert "  line 8: birth date looks Gregorian, not Jalali (as a Jalali date: 1369/02/11)" in err.splitlines()
    assert "after the election day" not in err


# --- interrupted builds ----------------------------------------------------------------------------

def _staging(world: World, out: str = "PKG") -> list[Path]:
    return sorted(p for p in world.root.iterdir() if p.name.startswith(f".{out}.building-"))


def test_a_build_killed_mid_way_is_cleaned_up_by_the_next_and_says_so(world: World, tmp_path: Path) -> None:
    big = world.root / "big.csv"
    synth = _authority(world, "synth", "--voters", 150_000, "--out", big)
    assert synth.returncode == 0, synth.stderr
    tool = Path(sys.executable).parent / "kiosk-authority"
    build = subprocess.Popen([str(tool), "package", "--dir", str(world.authority.folder), "--election",
                              str(world.election), "--voters", str(big), "--out", "PKG"], cwd=world.root,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any((s / ".registry.sqlite.parts").exists() for s in _staging(world)):
            assert build.poll() is None and time.monotonic() < deadline, "the build ended before it could be killed"
            time.sleep(0.02)
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait(timeout=60)
    left = _staging(world)
    assert len(left) == 1 and (left[0] / STAGING_MARK).is_file()
    # A folder of the same name someone made by hand carries no mark: it stays, with its contents.
    decoy = world.root / ".PKG.building-abcd1234"
    decoy.mkdir()
    (decoy / "notes.txt").write_text("mine")
    # Nor is a link of that name followed to a folder elsewhere, even one that holds a mark.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / STAGING_MARK).write_text("")
    (world.root / ".PKG.building-zzzz9999").symlink_to(elsewhere)
    done = _package(world)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (f"removed {left[0].name}, left beside PKG by a build that was "
                                           "interrupted")
    assert _staging(world) == [decoy, world.root / ".PKG.building-zzzz9999"]
    assert (decoy / "notes.txt").read_text() == "mine" and (elsewhere / STAGING_MARK).exists()
    assert not (world.root / "PKG" / STAGING_MARK).exists()


def test_a_build_still_running_is_not_taken_for_a_stale_one(world: World) -> None:
    """Two builds beside each other: the lock on the mark tells a live one from a dead one."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from provisioning import package\n"
        "folder, _ = package._new_staging(Path(sys.argv[1]))\n"
        "print(folder, flush=True)\n"
        "time.sleep(120)\n"), str(world.root / "PKG")], cwd=_REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        running = Path(holder.stdout.readline().strip())
        assert remove_stale_builds(world.root / "PKG") == [] and running.is_dir()
    finally:
        holder.kill()
        holder.wait(timeout=60)
    assert remove_stale_builds(world.root / "PKG") == [running] and not running.exists()


# --- full and read-only disks ---------------------------------------------------------------------

def test_a_build_onto_a_full_disk_says_what_failed_and_leaves_nothing(world: World) -> None:
    big = world.root / "big.csv"
    assert _authority(world, "synth", "--voters", 5000, "--out", big).returncode == 0
    with small_disk(world.root / "stick", 256) as stick:
        done = _package(world, voters=big, out=str(stick / "PKG"))
        err = _refused(done)
        assert err.startswith(f"kiosk-authority: disk full at {stick}: the build needs about ")
        assert err.endswith(" MB and run again; nothing was built\n") and " free " in err
        assert err.count("\n") == 1
        assert sorted(os.listdir(stick)) == []
    assert not (world.authority.folder / "registry-keys").exists()


def test_a_build_onto_a_read_only_disk_is_refused_in_one_line(world: World) -> None:
    stick = world.root / "stick"
    stick.mkdir()
    with read_only(stick):
        err = _refused(_package(world, out=str(stick / "PKG")))
    assert err == (f"kiosk-authority: cannot write at {stick}: the file system is read-only; "
                   "choose a writable folder for --out\n")
    assert os.listdir(stick) == []


# --- what the command writes is the authority's alone ---------------------------------------------

def test_the_authority_folder_and_the_registry_are_private_whatever_the_umask(world: World) -> None:
    old = os.umask(0o022)   # what the commands inherit from a usual login shell
    try:
        done = _authority(world, "init", "--dir", "AUTH2", "--election", world.election)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE((world.root / "AUTH2").stat().st_mode) == 0o700
        assert _package(world).returncode == 0
        assert stat.S_IMODE((world.root / "PKG" / "registry.sqlite").stat().st_mode) & 0o077 == 0
    finally:
        os.umask(old)
