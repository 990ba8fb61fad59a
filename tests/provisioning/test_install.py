"""Installing a package on a device: every verdict served afterwards, and every bad package refused with nothing changed."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from disks import fill, small_disk
from helpers import PEOPLE, World, code, make_world
from kiosk.cli import main as kiosk_main
from kiosk.logbook import AUDIT_LOG
from kiosk.state import CURRENT, LEDGER, Installed, Part, load_signing_key, recheck_installed
from kiosk.trust import certs, manifest
from kiosk.trust.canonical import canonical_json
from provisioning.authority_cli import main as authority_main
from provisioning.device import InstallRefused, install

_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@dataclass
class Device:
    """An initialised, enrolled kiosk of `world`, optionally with a package installed."""

    world: World
    state: Path
    cert: Path

    @property
    def authority_crt(self) -> Path:
        return self.world.authority.folder / "authority.crt"

    @property
    def device_id(self) -> str:
        return certs.device_id_for(load_signing_key(self.state).public_key())


def _snapshot(state: Path) -> dict[str, str]:
    """Every entry under the state folder: directories, symlink targets, file hashes and modes.

    SQLite's -wal/-shm side files come and go with any reader, so the ledger is
    compared by its rows instead. The audit log is meant to grow: a refusal is recorded there.
    """
    found: dict[str, str] = {}
    if not state.exists():
        return found
    ledger = state / LEDGER
    if ledger.exists():
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        rows = db.execute("SELECT * FROM events ORDER BY device, seq").fetchall()
        meta = db.execute("SELECT * FROM meta ORDER BY name").fetchall()
        db.close()
        found["ledger rows"] = repr((rows, meta))
    for folder, dirs, files in os.walk(state):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            rel = path.relative_to(state).as_posix()
            if rel.startswith((LEDGER, AUDIT_LOG)):
                continue
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = f"{stat.S_IMODE(path.stat().st_mode):o} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


def _check(state: Path, raw: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert kiosk_main(["check", "--state", str(state), raw]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _checkin(state: Path, raw: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert kiosk_main(["checkin", "--state", str(state), raw]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def _resign(pkg: Path, world: World, edit: Callable[[dict[str, object]], None]) -> None:
    """Rewrite the manifest and sign it with the authority's real key (only the authority could)."""
    data = json.loads((pkg / manifest.MANIFEST).read_bytes())
    edit(data)
    body = canonical_json(data)
    (pkg / manifest.MANIFEST).write_bytes(body)
    (pkg / manifest.SIGNATURE).write_bytes(world.authority.key.sign(body))


def _rehash(pkg: Path, data: dict[str, object], name: str) -> None:
    entry = manifest.hash_file(pkg / name)
    files = data["files"]
    assert isinstance(files, dict)
    files[name] = {"sha256": entry.sha256, "size": entry.size}


@pytest.fixture
def device(world: World) -> Device:
    state, cert = world.device("kiosk1")
    return Device(world, state, cert)


def test_an_installed_device_gives_every_verdict_with_what_staff_must_see(
        device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = device.world.package()
    installed = install(device.state, pkg, device.cert, device.authority_crt)
    again = Installed.open(device.state)
    assert again.config.id == installed.config.id == "test-1405"
    assert again.claims.device_id == device.device_id and again.claims.branches == ("1001",)
    assert again.locked   # a fresh install opens no registry until the day's unlock
    assert stat.S_IMODE((device.state / CURRENT / "device.envelope").stat().st_mode) == 0o600
    assert not (device.state / CURRENT / "registry.key").exists()
    device.world.unlock_state(device.state)
    expected = {"eligible": ("eligible", None), "birthday_today": ("eligible", None),
                "one_day_short": ("underage", "1405/03/02"), "underage": ("underage", "1413/01/20"),
                "deceased": ("deceased", None), "suspended": ("suspended", None)}
    for who, person in PEOPLE.items():
        verdict, eligible_on = expected[who]
        out = _check(device.state, person.code, capsys)
        assert out["verdict"] == verdict, who
        assert (out["first_name"], out["last_name"], out["father_name"]) == (person.first, person.last, person.father)
        assert out["birth_year"] == int(person.born[:4])
        assert out.get("eligible_on") == eligible_on, who
    typed = "-".join((PEOPLE["eligible"].code[:3], PEOPLE["eligible"].code[3:])).translate(_PERSIAN)
    assert _check(device.state, typed, capsys)["verdict"] == "eligible"
    assert _check(device.state, code(999), capsys) == {"verdict": "not_found"}
    assert _check(device.state, "12345", capsys)["verdict"] == "invalid_code"


# Each case turns the device's next install into one that must be refused: (package, cert, authority cert).
Case = Callable[[Device, Path], tuple[Path, Path, Path]]


def _flip_registry(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    reg = pkg / "registry.sqlite"
    data = bytearray(reg.read_bytes())
    data[len(data) // 2] ^= 0x01
    reg.write_bytes(bytes(data))
    return pkg, d.cert, d.authority_crt


def _truncate_registry(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    reg = pkg / "registry.sqlite"
    reg.write_bytes(reg.read_bytes()[: reg.stat().st_size // 2])
    return pkg, d.cert, d.authority_crt


def _remove_registry(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    (pkg / "registry.sqlite").unlink()
    return pkg, d.cert, d.authority_crt


def _extra_file(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    (pkg / "anchors" / "extra.pem").write_text("slipped in")
    return pkg, d.cert, d.authority_crt


def _edited_manifest(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    """A swapped registry with the manifest's hash updated to match, but no authority key to re-sign."""
    pkg = d.world.package("NEXT")
    reg = pkg / "registry.sqlite"
    reg.write_bytes(reg.read_bytes()[:4096])
    data = json.loads((pkg / manifest.MANIFEST).read_bytes())
    _rehash(pkg, data, "registry.sqlite")
    (pkg / manifest.MANIFEST).write_bytes(canonical_json(data))
    return pkg, d.cert, d.authority_crt


def _foreign_signature(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    foreign = make_world(tmp / "foreign")
    pkg = d.world.package("NEXT")
    shutil.copyfile(foreign.package() / manifest.SIGNATURE, pkg / manifest.SIGNATURE)
    return pkg, d.cert, d.authority_crt


def _foreign_package(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    foreign = make_world(tmp / "foreign")
    foreign.authority.enroll((d.state / "device.csr").read_bytes(), certs.Role.KIOSK, ("1001",))
    return foreign.package(), d.cert, d.authority_crt


def _foreign_package_and_authority(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    foreign = make_world(tmp / "foreign")
    foreign.authority.enroll((d.state / "device.csr").read_bytes(), certs.Role.KIOSK, ("1001",))
    return foreign.package(), d.cert, foreign.authority.folder / "authority.crt"


def _package_of_another_election(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    other = make_world(tmp / "other", election_id="other-1405")
    other.authority.enroll((d.state / "device.csr").read_bytes(), certs.Role.KIOSK, ("1001",))
    return other.package(), d.cert, other.authority.folder / "authority.crt"


def _other_election_manifest(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    _resign(pkg, d.world, lambda data: data.update(election="other-1405"))
    return pkg, d.cert, d.authority_crt


def _other_election_settings(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    settings = json.loads((pkg / "election.json").read_text("utf-8"))
    settings["id"] = "other-1405"
    (pkg / "election.json").write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")
    _resign(pkg, d.world, lambda data: _rehash(pkg, data, "election.json"))
    return pkg, d.cert, d.authority_crt


def _other_device_cert(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    _, other_cert = d.world.device("kiosk2")
    return d.world.package("NEXT"), other_cert, d.authority_crt


def _other_authority_cert(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    foreign = make_world(tmp / "foreign")
    cert = foreign.authority.enroll((d.state / "device.csr").read_bytes(), certs.Role.KIOSK, ("1001",))
    path = tmp / "foreign.crt"
    path.write_bytes(certs.cert_pem(cert))
    return d.world.package("NEXT"), path, d.authority_crt


def _garbage_cert(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    path = tmp / "garbage.crt"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    return d.world.package("NEXT"), path, d.authority_crt


def _missing_cert(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    return d.world.package("NEXT"), tmp / "no-such.crt", d.authority_crt


def _tampered_envelope(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    pkg = d.world.package("NEXT")
    path = pkg / "envelopes" / f"{d.device_id}.json"
    data = json.loads(path.read_bytes())
    wrapped = bytearray(data["wrapped"].encode())
    wrapped[4] = ord("A") if wrapped[4] != ord("A") else ord("B")
    data["wrapped"] = wrapped.decode()
    path.write_bytes(canonical_json(data))
    return pkg, d.cert, d.authority_crt


def _envelope_of_another_device(d: Device, tmp: Path) -> tuple[Path, Path, Path]:
    state2, _ = d.world.device("kiosk2")
    pkg = d.world.package("NEXT")
    other = certs.device_id_for(load_signing_key(state2).public_key())
    shutil.copyfile(pkg / "envelopes" / f"{other}.json", pkg / "envelopes" / f"{d.device_id}.json")
    return pkg, d.cert, d.authority_crt


CASES = [
    ("flipped-registry-byte", _flip_registry, "altered or truncated: registry.sqlite", True),
    ("truncated-registry", _truncate_registry, "altered or truncated: registry.sqlite", True),
    ("missing-registry", _remove_registry, "registry.sqlite", True),
    ("extra-unlisted-file", _extra_file, "does not list: anchors/extra.pem", False),
    ("edited-manifest", _edited_manifest, "manifest signature does not verify", False),
    ("foreign-manifest-signature", _foreign_signature, "manifest signature does not verify", False),
    ("foreign-package", _foreign_package, "from another election authority", False),
    ("foreign-package-and-authority", _foreign_package_and_authority,
     "device certificate: certificate signature does not verify", False),
    ("package-of-another-election", _package_of_another_election,
     "device certificate: certificate is from another authority", False),
    ("manifest-of-another-election", _other_election_manifest, "package is for another election", False),
    ("settings-of-another-election", _other_election_settings, "package parts name different elections", True),
    ("certificate-of-another-device", _other_device_cert, "issued to another device", False),
    ("certificate-of-another-authority", _other_authority_cert,
     "device certificate: certificate signature does not verify", False),
    ("garbage-certificate", _garbage_cert, "device certificate is not a PEM certificate", False),
    ("missing-certificate", _missing_cert, "device certificate cannot be read", False),
    ("tampered-envelope", _tampered_envelope, "envelope is not signed by the election authority", False),
    ("envelope-of-another-device", _envelope_of_another_device, "addressed to another device", False),
]


def _params(fresh: bool) -> list[Any]:
    params = []
    for name, case, message, _stages in CASES:
        params.append(pytest.param(case, message, id=name))
    return params


@pytest.mark.parametrize("case, message", _params(fresh=False))
def test_a_bad_install_is_refused_and_the_previous_package_keeps_serving(
        device: Device, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Case, message: str) -> None:
    install(device.state, device.world.package("FIRST"), device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    assert "recorded" in _checkin(device.state, PEOPLE["eligible"].code, capsys)
    link = os.readlink(device.state / CURRENT)
    package, cert, authority = case(device, tmp_path)
    before = _snapshot(device.state)
    with pytest.raises(InstallRefused, match=message) as refused:
        install(device.state, package, cert, authority)
    assert "\n" not in str(refused.value)
    assert _snapshot(device.state) == before
    assert os.readlink(device.state / CURRENT) == link
    assert _check(device.state, PEOPLE["eligible"].code, capsys)["verdict"] == "already_voted"
    assert _check(device.state, PEOPLE["birthday_today"].code, capsys)["verdict"] == "eligible"


@pytest.mark.parametrize("case, message", _params(fresh=True))
def test_a_bad_first_install_is_refused_and_changes_nothing(
        device: Device, tmp_path: Path, case: Case, message: str) -> None:
    package, cert, authority = case(device, tmp_path)
    before = _snapshot(device.state)
    with pytest.raises(InstallRefused, match=message):
        install(device.state, package, cert, authority)
    assert _snapshot(device.state) == before
    assert not (device.state / CURRENT).exists()


def test_a_device_enrolled_after_the_build_is_refused_until_the_authority_seals_for_it(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    early_state, early_cert = world.device("early")
    pkg = world.package()
    late_state, late_cert = world.device("late")
    crt = world.authority.folder / "authority.crt"
    before = _snapshot(late_state)
    with pytest.raises(InstallRefused, match="not enrolled"):
        install(late_state, pkg, late_cert, crt)
    assert _snapshot(late_state) == before
    assert authority_main(["seal", "--dir", str(world.authority.folder), "--package", str(pkg)]) == 0
    assert "1 envelopes added" in capsys.readouterr().out
    assert authority_main(["seal", "--dir", str(world.authority.folder), "--package", str(pkg)]) == 0
    assert "0 envelopes added" in capsys.readouterr().out
    for state, cert in ((late_state, late_cert), (early_state, early_cert)):
        world.unlock(install(state, pkg, cert, crt))
        assert _check(state, PEOPLE["birthday_today"].code, capsys)["verdict"] == "eligible"


def test_seal_refuses_a_package_of_another_authority(world: World, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    foreign = make_world(tmp_path / "foreign")
    pkg = foreign.package()
    before = sorted(p.name for p in (pkg / "envelopes").iterdir())
    world.device("kiosk1")
    assert authority_main(["seal", "--dir", str(world.authority.folder), "--package", str(pkg)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk-authority: not a package of this authority") and err.count("\n") == 1
    assert sorted(p.name for p in (pkg / "envelopes").iterdir()) == before


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_an_uninitialised_state_folder_is_refused(device: Device, tmp_path: Path, make: str) -> None:
    state = tmp_path / "blank"
    if make == "empty":
        state.mkdir()
    pkg = device.world.package()
    with pytest.raises(InstallRefused, match="not initialised"):
        install(state, pkg, device.cert, device.authority_crt)
    assert state.exists() == (make == "empty")
    assert _snapshot(state) == {}


def _assert_still_checked_in(device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    out = _check(device.state, PEOPLE["birthday_today"].code, capsys)
    assert out["verdict"] == "already_voted"
    assert out["checked_in"]["seq"] == 1  # type: ignore[index]
    assert [p.name for p in (device.state / "packages").iterdir()] == [
        os.path.basename(os.readlink(device.state / CURRENT))]
    assert kiosk_main(["ledger", "verify", "--state", str(device.state)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["events"], counts["check_ins"], counts["live_check_ins"]) == (1, 1, 1)


def test_reinstalling_the_same_package_keeps_the_check_ins(device: Device,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    pkg = device.world.package()
    install(device.state, pkg, device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    assert _checkin(device.state, PEOPLE["birthday_today"].code, capsys)["recorded"]["seq"] == 1  # type: ignore[index]
    install(device.state, pkg, device.cert, device.authority_crt)
    _assert_still_checked_in(device, capsys)


def test_installing_a_rebuilt_package_of_the_same_election_keeps_the_check_ins(
        device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    install(device.state, device.world.package("FIRST"), device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    assert _checkin(device.state, PEOPLE["birthday_today"].code, capsys)["recorded"]["seq"] == 1  # type: ignore[index]
    install(device.state, device.world.package("SECOND"), device.cert, device.authority_crt)
    _assert_still_checked_in(device, capsys)


def _enroll_in(other: World, state: Path, tmp: Path) -> Path:
    cert = other.authority.enroll((state / "device.csr").read_bytes(), certs.Role.KIOSK, ("1001",))
    path = tmp / "next.crt"
    path.write_bytes(certs.cert_pem(cert))
    return path


def test_a_ledger_of_another_election_blocks_installing_a_new_election(
        device: Device, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install(device.state, device.world.package("FIRST"), device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    _checkin(device.state, PEOPLE["eligible"].code, capsys)
    nxt = make_world(tmp_path / "next", election_id="next-1406")
    cert = _enroll_in(nxt, device.state, tmp_path)
    pkg = nxt.package()
    before = _snapshot(device.state)
    with pytest.raises(InstallRefused, match="1 ledger entries of election test-1405; export and wipe first"):
        install(device.state, pkg, cert, nxt.authority.folder / "authority.crt")
    assert _snapshot(device.state) == before
    assert _check(device.state, PEOPLE["eligible"].code, capsys)["verdict"] == "already_voted"


def test_a_device_that_served_no_one_can_move_to_a_new_election(
        device: Device, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The app started once (so made an empty ledger of the old election) but checked no one in: no block.

    The install is accepted, the empty ledger of test-1405 is dropped, and the
    kiosk then serves next-1406 from a fresh ledger of that election.
    """
    install(device.state, device.world.package("FIRST"), device.cert, device.authority_crt)
    Installed.open(device.state).open_ledger().close()   # as the app does when it starts
    assert (device.state / LEDGER).exists()
    nxt = make_world(tmp_path / "next", election_id="next-1406")
    cert = _enroll_in(nxt, device.state, tmp_path)
    installed = nxt.unlock(install(device.state, nxt.package(), cert, nxt.authority.folder / "authority.crt"))
    assert installed.config.id == Installed.open(device.state).config.id == "next-1406"
    assert _check(device.state, PEOPLE["eligible"].code, capsys)["verdict"] == "eligible"
    assert _checkin(device.state, PEOPLE["eligible"].code, capsys)["recorded"]["seq"] == 1  # type: ignore[index]
    assert kiosk_main(["ledger", "verify", "--state", str(device.state)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["events"], counts["live_check_ins"]) == (1, 1)


# -- builds: an older build of the installed election is refused -----------------------------------------

def test_an_older_build_is_refused_after_a_newer_one_and_changes_nothing(
        device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    older, newer = device.world.package("OLDER"), device.world.package("NEWER")   # builds 1 and 2
    install(device.state, newer, device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    assert _checkin(device.state, PEOPLE["birthday_today"].code, capsys)["recorded"]["seq"] == 1  # type: ignore[index]
    before = _snapshot(device.state)
    with pytest.raises(InstallRefused, match="package is build 1 of election test-1405, older than the installed "
                                             "build 2; install build 2 or newer") as refused:
        install(device.state, older, device.cert, device.authority_crt)
    assert "\n" not in str(refused.value)
    assert _snapshot(device.state) == before
    install(device.state, newer, device.cert, device.authority_crt)   # the same build installs again
    _assert_still_checked_in(device, capsys)


def test_an_older_build_stays_refused_when_the_installed_manifest_is_gone(device: Device) -> None:
    older, newer = device.world.package("OLDER"), device.world.package("NEWER")
    install(device.state, newer, device.cert, device.authority_crt)
    (device.state / CURRENT / manifest.MANIFEST).unlink()
    with pytest.raises(InstallRefused, match="older than the installed build 2"):
        install(device.state, older, device.cert, device.authority_crt)
    install(device.state, newer, device.cert, device.authority_crt)   # the repair: the newest build again
    assert Installed.open(device.state).verify_files() is None


def test_a_newer_build_installs_over_an_older_one(device: Device, capsys: pytest.CaptureFixture[str]) -> None:
    older, newer = device.world.package("OLDER"), device.world.package("NEWER")
    install(device.state, older, device.cert, device.authority_crt)
    device.world.unlock_state(device.state)
    _checkin(device.state, PEOPLE["birthday_today"].code, capsys)
    install(device.state, newer, device.cert, device.authority_crt)
    _assert_still_checked_in(device, capsys)


# -- the installed files, re-checked at every start of the apps -------------------------------------------

def _alter(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_settings(installed: Installed) -> None:
    settings = installed.package_dir / "election.json"
    edited = json.loads(settings.read_text("utf-8"))
    edited["min_age"] = 15
    settings.write_text(json.dumps(edited, ensure_ascii=False, indent=1), "utf-8")


def _foreign_authority(installed: Installed) -> None:
    _, other = certs.new_authority("test-1405", "another authority", installed.config.day.to_gregorian())
    (installed.package_dir / "authority.crt").write_bytes(certs.cert_pem(other))


TAMPER: list[tuple[str, Callable[[Installed], None], str, str, bool]] = [
    # (case, tamper, file named, change, found by the small re-check)
    ("settings", _edit_settings, "election.json", "altered", True),
    ("export-key", lambda i: _alter(i.package_dir / "export.pub"), "export.pub", "altered", True),
    ("roster-entry", lambda i: _alter(next((i.package_dir / "roster").iterdir())), "roster/", "altered", True),
    ("authority", _foreign_authority, "authority.crt", "altered", True),
    ("authority-garbage", lambda i: (i.package_dir / "authority.crt").write_bytes(b"not a certificate"),
     "authority.crt", "altered", True),
    ("signature", lambda i: _alter(i.package_dir / manifest.SIGNATURE), manifest.MANIFEST, "unsigned", True),
    ("manifest-gone", lambda i: (i.package_dir / manifest.MANIFEST).unlink(), manifest.MANIFEST, "missing", True),
    ("registry", lambda i: _alter(i.package_dir / "registry.sqlite"), "registry.sqlite", "altered", False),
    ("registry-grown", lambda i: (i.package_dir / "registry.sqlite").open("ab").write(b"\0"), "registry.sqlite",
     "resized", False),
]


@pytest.mark.parametrize("tamper, name, change, small", [pytest.param(*c[1:], id=c[0]) for c in TAMPER])
def test_a_changed_installed_file_is_named_by_the_part_of_the_recheck_that_reads_it(
        world: World, tamper: Callable[[Installed], None], name: str, change: str, small: bool) -> None:
    installed = world.installed()
    assert [recheck_installed(installed.package_dir, part) for part in Part] == [None, None, None]
    tamper(installed)
    found = {part: recheck_installed(installed.package_dir, part) for part in Part}
    caught = found[Part.SMALL] if small else found[Part.REGISTRY]
    assert caught is not None and caught.name.startswith(name) and caught.change.value == change
    other = found[Part.REGISTRY] if small else found[Part.SMALL]
    if name in (manifest.MANIFEST, "authority.crt"):
        assert other == caught   # no part can go on from a manifest that does not verify
    else:
        assert other is None     # the other part does not read that file
    assert found[Part.ALL] == caught
    assert installed.verify_files() == caught.message()


# -- issue 13: the real command on a full disk, and what it leaves readable -------------------------------

TOOL = str(Path(sys.executable).parent / "kiosk-provision")


def _provision(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("first", [True, False], ids=["first-install", "over-an-installed-package"])
def test_an_install_onto_a_full_disk_is_refused_and_leaves_no_partial_files(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], first: bool) -> None:
    with small_disk(world.root / "kiosk1", 1024) as state:
        _, cert = world.device("kiosk1")
        crt = world.authority.folder / "authority.crt"
        if not first:
            install(state, world.package("FIRST"), cert, crt)
            world.unlock_state(state)
            assert "recorded" in _checkin(state, PEOPLE["eligible"].code, capsys)
            link = os.readlink(state / CURRENT)
        pkg = world.package("NEXT")
        before = _snapshot(state)
        fill(state)

        done = _provision("install", "--state", state, "--package", pkg, "--cert", cert, "--authority", crt)

        assert done.returncode == 1, (done.stdout, done.stderr)
        assert done.stderr == (f"kiosk-provision: refused: cannot copy the package into {state}: No space left on "
                               "device; nothing was changed (the previous install, if any, keeps serving): free "
                               "space on the device's storage and install again\n")
        for filler in state.glob(".filler*"):          # room again, so the ledger can be read and compared
            filler.unlink()
        assert _snapshot(state) == before              # no staging folder, no half-written file
        if first:
            assert not os.path.lexists(state / CURRENT) and not (state / "packages").exists()
            return
        assert os.readlink(state / CURRENT) == link and [p.name for p in (state / "packages").iterdir()] == [
            os.path.basename(link)]
        installed = Installed.open(state)
        assert installed.verify_files() is None
        registry = installed.open_registry()
        try:
            assert registry.lookup(PEOPLE["birthday_today"].code) is not None
        finally:
            registry.close()


def test_what_the_command_installs_is_readable_by_the_device_account_only(
        device: Device, tmp_path: Path) -> None:
    pkg = device.world.package()
    previous = os.umask(0o022)                        # a technician's shell, as Debian sets it
    try:
        done = _provision("install", "--state", device.state, "--package", pkg, "--cert", device.cert,
                          "--authority", device.authority_crt)
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    readable = [p.relative_to(device.state).as_posix() for p in (device.state / "packages").rglob("*")
                if p.stat().st_mode & 0o077]
    assert readable == []
    marker = json.loads((device.state / "kiosk-device.json").read_text("utf-8"))
    assert (marker["device"], marker["role"]) == (device.device_id, "kiosk")   # the role it was enrolled as
