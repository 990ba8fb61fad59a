"""Officials: the authority enrolls heads and representatives by national code; the package names them by hash only.

The command runs as a subprocess, with the code on standard input; every refusal is one line, an exit code,
and the authority's file left as it was. The signed file is checked as a device would read it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from helpers import World, make_world
from kiosk.trust import officials
from kiosk.trust.officials import Official, OfficialRole, OfficialsRefused
from provisioning.officials import KEPT, add_official, write_officials

# Synthetic valid codes (checked by hand against the checksum rule): two officials and a stranger.
ALI = "0010000119"
SARA = "0220000141"
STRANGER = "0010000127"
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def official(world: World, *args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.authority_cli", "official", *args,
                           "--dir", str(world.authority.folder)],
                          input=code, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("KIOSK_LOG_LEVEL", "JOURNAL_STREAM", "TERM")})


def add(world: World, account: str, role: str, branches: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    flags = [f for b in branches for f in ("--branch", b)]
    return official(world, "add", "--account", account, "--role", role, *flags, "--national-code", "-",
                    code=code + "\n")


def kept(world: World) -> bytes | None:
    path = world.authority.folder / KEPT
    return path.read_bytes() if path.exists() else None


def one_line(done: subprocess.CompletedProcess[str], exit_code: int = 1) -> str:
    """The refusal's line, after checking it is the only output and the exit code."""
    assert done.returncode == exit_code and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("kiosk-authority: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr[len("kiosk-authority: "):-1]


def hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    """RFC 5869 with no salt, one 32-byte block, written out with hmac so it does not lean on the code under test."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def enroll_two(world: World) -> None:
    assert add(world, "ali", "head", ("1001",), ALI).returncode == 0
    assert add(world, "sara", "rep", ("1001", "1002"), SARA.translate(PERSIAN)).returncode == 0


def signed_file(world: World, tmp_path: Path) -> bytes:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    assert write_officials(staging, world.authority) == "officials.json"
    return (staging / "officials.json").read_bytes()


def test_add_list_and_remove_through_the_command(world: World) -> None:
    done = add(world, "ali", "head", ("1001",), ALI)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == ("official ali added: head of branch 1001; the next package build carries it to "
                           "the devices\n")
    assert add(world, "sara", "rep", ("1001", "1002"), SARA.translate(PERSIAN)).returncode == 0
    listed = official(world, "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout == "ali  head  1001  001*****19\nsara  rep  1001,1002  022*****41\n"
    assert stat.S_IMODE((world.authority.folder / KEPT).stat().st_mode) == 0o600

    replaced = add(world, "ali", "head", ("1002",), ALI)
    assert replaced.stdout.startswith("official ali replaced: head of branch 1002;")
    removed = official(world, "remove", "--account", "sara")
    assert (removed.returncode, removed.stdout) == (0, "official sara removed; the next package build carries "
                                                       "it to the devices\n")
    assert official(world, "list").stdout == "ali  head  1002  001*****19\n"
    assert official(world, "remove", "--account", "ali").returncode == 0
    assert official(world, "list").stdout == "no officials enrolled\n"


@pytest.mark.parametrize("account, role, branches, code, line", [
    ("ali", "head", ("1001",), "0010000118", "not a valid national code: its check digit does not match "
                                             "(a digit mistyped?)"),
    ("ali", "head", ("1001",), "010000119", "the national code has fewer than ten digits: give all ten, "
                                            "leading zeros included"),
    ("ali", "head", ("1001",), "", "not a valid national code: none was given"),
    ("ali", "head", ("1001", "9999"), ALI, "branch not in this election: 9999"),
    ("ali", "worker", ("1001",), ALI, "role 'worker' is not head or rep"),
    ("Ali!", "head", ("1001",), ALI, "account 'Ali!' is not 1 to 32 characters of a-z, 0-9 and -"),
    ("a" * 33, "head", ("1001",), ALI, f"account '{'a' * 33}' is not 1 to 32 characters of a-z, 0-9 and -"),
    ("sara", "head", ("1001",), STRANGER, "account sara is enrolled with another national code; "
                                          "remove it first or choose another account"),
    ("ali2", "rep", ("1002",), ALI, "this national code is enrolled as head ali; one person cannot be both "
                                    "head and rep (remove ali first)"),
    ("ali2", "head", ("1002",), ALI.translate(ARABIC), "this national code is enrolled as account ali; "
                                                       "give that account the branches instead (--account ali)"),
])
def test_a_refused_enrollment_is_one_line_and_writes_nothing(
        world: World, account: str, role: str, branches: tuple[str, ...], code: str, line: str) -> None:
    enroll_two(world)
    before = kept(world)
    done = add(world, account, role, branches, code)
    assert one_line(done) == line
    assert kept(world) == before
    assert official(world, "list").stdout == "ali  head  1001  001*****19\nsara  rep  1001,1002  022*****41\n"


def test_a_code_given_on_the_command_line_is_refused_and_not_echoed(world: World) -> None:
    done = official(world, "add", "--account", "ali", "--role", "head", "--branch", "1001", "--national-code", ALI)
    assert one_line(done, exit_code=2) == ("--national-code takes - and reads the code from standard input "
                                           "(a code on the command line stays in shell history)")
    assert kept(world) is None


def test_removing_an_unknown_account_is_refused(world: World) -> None:
    enroll_two(world)
    before = kept(world)
    assert one_line(official(world, "remove", "--account", "nobody")) == "no official has the account 'nobody'"
    assert kept(world) == before


def test_a_folder_that_is_not_an_authority_is_refused(world: World, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "provisioning.authority_cli", "official", "list",
                           "--dir", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert one_line(done) == f"{tmp_path / 'nowhere'} is not an initialised authority folder"


def test_the_package_file_names_no_national_code(world: World, tmp_path: Path) -> None:
    enroll_two(world)
    data = signed_file(world, tmp_path)
    for code in (ALI, SARA):
        for form in (code, code.translate(PERSIAN), code.translate(ARABIC), code[1:]):
            assert form.encode("utf-8") not in data
    assert list((tmp_path / "staging").iterdir()) == [tmp_path / "staging" / "officials.json"]


def test_code_hashes_are_hmac_sha256_under_a_key_from_the_index_secret(world: World, tmp_path: Path) -> None:
    enroll_two(world)
    raw = json.loads(signed_file(world, tmp_path))
    key = hkdf_sha256((world.authority.folder / "index.key").read_bytes(), b"kiosk officials v1")
    assert officials.officials_key((world.authority.folder / "index.key").read_bytes()) == key
    expected = {"ali": hmac.new(key, ALI.encode(), hashlib.sha256).hexdigest(),
                "sara": hmac.new(key, SARA.encode(), hashlib.sha256).hexdigest()}
    assert {e["account"]: e["code_hash"] for e in raw["officials"]} == expected
    assert {e["account"]: (e["role"], e["branches"]) for e in raw["officials"]} == {
        "ali": ("head", ["1001"]), "sara": ("rep", ["1001", "1002"])}
    assert raw["election"] == "test-1405"


def test_find_names_the_official_of_a_code_and_no_one_for_another(world: World, tmp_path: Path) -> None:
    enroll_two(world)
    roster = officials.parse(signed_file(world, tmp_path), world.authority.key.public_key(), "test-1405")
    key = hkdf_sha256((world.authority.folder / "index.key").read_bytes(), b"kiosk officials v1")
    ali = Official("ali", OfficialRole.HEAD, ("1001",))
    sara = Official("sara", OfficialRole.REP, ("1001", "1002"))
    assert roster.find(key, ALI) == ali
    assert roster.find(key, ALI.translate(PERSIAN)) == ali
    assert roster.find(key, SARA) == sara
    assert roster.find(key, STRANGER) is None
    assert roster.find(key, "not a code") is None
    assert roster.find(os.urandom(32), ALI) is None   # without the day's key the file names no one
    assert (roster.heads_of("1001"), roster.reps_of("1001")) == ([ali], [sara])
    assert (roster.heads_of("1002"), roster.reps_of("1002")) == ([], [sara])
    assert roster.heads_of("9999") == []


def test_an_election_with_no_officials_has_a_valid_empty_file(world: World, tmp_path: Path) -> None:
    roster = officials.parse(signed_file(world, tmp_path), world.authority.key.public_key(), "test-1405")
    key = hkdf_sha256((world.authority.folder / "index.key").read_bytes(), b"kiosk officials v1")
    assert roster.find(key, ALI) is None and roster.heads_of("1001") == [] and roster.reps_of("1001") == []


def _refusal(data: bytes, world: World, election: str = "test-1405") -> str:
    with pytest.raises(OfficialsRefused) as caught:
        officials.parse(data, world.authority.key.public_key(), election)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def _edited(data: bytes, edit: dict[str, object], entry: dict[str, object] | None = None) -> bytes:
    raw = json.loads(data)
    raw.update(edit)
    if entry is not None:
        raw["officials"][0].update(entry)
    return json.dumps(raw).encode()


def test_a_tampered_or_forged_file_is_refused(world: World, tmp_path: Path) -> None:
    enroll_two(world)
    data = signed_file(world, tmp_path)
    not_signed = "officials file is not signed by this election's authority"
    raw = json.loads(data)
    ali = next(e for e in raw["officials"] if e["account"] == "ali")
    ali["branches"] = ["1002"]
    assert _refusal(json.dumps(raw).encode(), world) == not_signed
    ali["branches"], ali["role"] = ["1001"], "rep"
    assert _refusal(json.dumps(raw).encode(), world) == not_signed
    forged = officials.sign(officials.parse(data, world.authority.key.public_key(), "test-1405"),
                            ed25519.Ed25519PrivateKey.generate())
    assert _refusal(forged, world) == not_signed
    assert _refusal(_edited(data, {"signature": "not base64!"}), world) == not_signed
    assert officials.parse(json.dumps(json.loads(data), indent=2).encode(), world.authority.key.public_key(),
                           "test-1405").election_id == "test-1405"   # spacing is not tampering


def test_another_elections_file_is_refused(world: World, tmp_path: Path) -> None:
    other = make_world(tmp_path / "other", election_id="other-1405")
    add_official(other.authority, "ali", "head", ["1001"], ALI)
    assert _refusal(signed_file(other, tmp_path / "other"), world) == "officials file is for another election"
    # Signed by this authority, but naming another election (a file from a mistaken build).
    mislabelled = officials.sign(officials.empty("other-1405"), world.authority.key)
    assert _refusal(mislabelled, world) == "officials file is for another election"


def test_unknown_fields_wrong_types_duplicates_and_oversize_are_refused(world: World, tmp_path: Path) -> None:
    enroll_two(world)
    data = signed_file(world, tmp_path)
    assert _refusal(_edited(data, {"extra": 1}), world) == "officials file has unknown fields: 'extra'"
    assert _refusal(_edited(data, {}, {"name": "x"}), world) == "officials file, entry 1 has unknown fields: 'name'"
    raw = json.loads(data)
    del raw["officials"][1]["code_hash"]
    assert _refusal(json.dumps(raw).encode(), world) == "officials file, entry 2 lacks fields: 'code_hash'"
    assert _refusal(_edited(data, {}, {"role": 5}), world) == "officials file, entry 1: role is not head or rep"
    assert _refusal(_edited(data, {}, {"branches": "1001"}), world) == (
        "officials file, entry 1: branches is not a list of 1 to 256 branch codes")
    assert _refusal(_edited(data, {}, {"branches": ["1001", "1001"]}), world) == (
        "officials file, entry 1: a branch is listed twice")
    assert _refusal(_edited(data, {}, {"code_hash": "AB" * 32}), world) == (
        "officials file, entry 1: code_hash is not 64 lowercase hex digits")
    assert _refusal(_edited(data, {}, {"account": "Ali"}), world) == (
        "officials file, entry 1: account is not 1 to 32 characters of a-z, 0-9 and -")
    assert _refusal(_edited(data, {"format": True}), world) == "officials file is not format 2 of 'kiosk officials v1'"
    assert _refusal(_edited(data, {"officials": {}}), world) == "officials file: officials is not a list"
    raw = json.loads(data)
    raw["officials"][1]["account"] = raw["officials"][0]["account"]
    assert _refusal(json.dumps(raw).encode(), world) == "officials file lists account ali twice"
    raw = json.loads(data)
    raw["officials"][1]["code_hash"] = raw["officials"][0]["code_hash"]
    assert _refusal(json.dumps(raw).encode(), world) == (
        "officials file gives one national code to two accounts (ali, sara)")
    assert _refusal(data[:-1] + b',"election":"test-1405"}', world) == "officials file has the field 'election' twice"
    assert _refusal(data[: len(data) // 2], world) == "officials file is not JSON"
    assert _refusal(b"[]", world) == "officials file is not a JSON object"
    big = data + b" " * (16 * 1024 * 1024)
    assert _refusal(big, world) == f"officials file is too large ({len(big)} bytes; at most {16 * 1024 * 1024})"
