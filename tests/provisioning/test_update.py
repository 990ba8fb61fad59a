"""Finding 5 off the LAN: the authority signs a revocation list; a USB stick or a sealed package brings it to a device.

`kiosk-provision update` keeps a list only if it verifies and is newer than the
one held, and device certificates of the same authority; anything else is a
clear refusal that changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from helpers import World, make_world
from kiosk.state import Installed
from kiosk.trust import certs, revocation
from kiosk.trust.roster import ROSTER_DIR
from provisioning.authority_cli import main as authority_main
from provisioning.device import init_device, install
from provisioning.device_cli import main as provision_main

NOW = dt.datetime.now(dt.timezone.utc)


def stick(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "usb" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def update(state: Path, *files: Path) -> int:
    return provision_main(["update", "--state", str(state), *map(str, files)])


def held(state: Path) -> bytes | None:
    path = state / revocation.FILE
    return path.read_bytes() if path.exists() else None


def late_certificate(world: World, name: str) -> bytes:
    """A device enrolled after the packages were built (no device was told of it yet)."""
    csr = init_device(world.root / name)
    cert = world.authority.enroll(csr.public_bytes(serialization.Encoding.PEM), certs.Role.KIOSK, ("1001",))
    return certs.cert_pem(cert)


def test_the_authority_signs_a_list_for_a_stick_and_a_device_keeps_it(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kiosk, lost = world.installed("kiosk1"), world.installed("kiosk2")
    lost_id = lost.claims.device_id
    out = tmp_path / "usb" / "revocations.json"
    out.parent.mkdir()
    assert authority_main(["revoke", "--dir", str(world.authority.folder), "--device", lost_id,
                           "--from", "2026-05-22T10:00", "--out", str(out)]) == 0   # Tehran time without a zone
    assert "revocation list 1" in capsys.readouterr().out
    assert update(kiosk.state, out) == 0
    assert f"revocation list 1 kept: revoked {lost_id} from 2026-05-22T06:30:00" in capsys.readouterr().out
    in_force = Installed.open(kiosk.state).roster()
    assert in_force.revoked_from_ms(lost_id) == int(dt.datetime(2026, 5, 22, 6, 30, tzinfo=dt.timezone.utc)
                                                    .timestamp() * 1000)
    assert in_force.refusal(lost_id, certs.fingerprint(lost.device_cert)) == "peer is revoked by the election authority"


def test_revoke_refuses_an_unknown_device_and_a_bad_time(world: World, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = world.installed("kiosk1")
    out = tmp_path / "revocations.json"
    assert authority_main(["revoke", "--dir", str(world.authority.folder), "--device", "00" * 8,
                           "--out", str(out)]) == 1
    assert "not enrolled" in capsys.readouterr().err
    assert authority_main(["revoke", "--dir", str(world.authority.folder), "--device", kiosk.claims.device_id,
                           "--from", "yesterday", "--out", str(out)]) == 2
    assert "ISO 8601" in capsys.readouterr().err
    assert not out.exists()


def forged_lists(world: World, tmp_path: Path, device: str) -> dict[str, bytes]:
    """Lists a device must refuse: another authority's for this election id, this one's for another election,
    a genuine one altered after signing, and garbage."""
    forger = make_world(tmp_path / "forger")          # the same election id, another authority
    when = NOW.isoformat(timespec="seconds")
    genuine = json.loads(revocation.sign(revocation.RevocationList(world.authority.config.id, 5, when,
                                                                   {device: when}), world.authority.key))
    return {
        "other authority": revocation.sign(revocation.RevocationList(world.authority.config.id, 9, when,
                                                                     {device: when}), forger.authority.key),
        "other election": revocation.sign(revocation.RevocationList("another-1405", 9, when, {device: when}),
                                          world.authority.key),
        "altered": json.dumps({**genuine, "number": 9}).encode(),
        "garbage": b"\x00not a list",
    }


@pytest.mark.parametrize("kind", ["other authority", "other election", "altered", "garbage"])
def test_a_forged_list_or_one_for_another_election_is_refused_and_changes_nothing(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    kiosk, other = world.installed("kiosk1"), world.installed("kiosk2")
    assert update(kiosk.state, stick(tmp_path, "genuine.json", world.authority.revoke(other.claims.device_id, NOW))) == 0
    before = held(kiosk.state)
    capsys.readouterr()
    forged = stick(tmp_path, "revocations.json", forged_lists(world, tmp_path, kiosk.claims.device_id)[kind])
    assert update(kiosk.state, forged) == 1
    err = capsys.readouterr().err
    assert "revocations.json: refused:" in err and "nothing was changed" in err and "Traceback" not in err
    assert held(kiosk.state) == before
    assert Installed.open(kiosk.state).revocations().number == 1
    assert Installed.open(kiosk.state).roster().refusal(kiosk.claims.device_id,
                                                        certs.fingerprint(kiosk.device_cert)) is None


def test_one_refused_file_keeps_nothing_of_the_others(world: World, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = world.installed("kiosk1")
    late = late_certificate(world, "late")
    late_id = certs.verify_device(certs.load_certificate(late), world.authority.cert).device_id
    forged = forged_lists(world, tmp_path, kiosk.claims.device_id)["other authority"]
    assert update(kiosk.state, stick(tmp_path, "late.crt", late), stick(tmp_path, "revocations.json", forged)) == 1
    assert "nothing was changed" in capsys.readouterr().err
    assert held(kiosk.state) is None and not (kiosk.state / ROSTER_DIR / f"{late_id}.pem").exists()


def test_an_older_list_does_not_replace_a_newer_one(world: World, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    kiosk, two, three = world.installed("kiosk1"), world.installed("kiosk2"), world.installed("kiosk3")
    first = stick(tmp_path, "first.json", world.authority.revoke(two.claims.device_id, NOW))
    second = stick(tmp_path, "second.json", world.authority.revoke(three.claims.device_id, NOW))
    assert update(kiosk.state, second) == 0
    newest = held(kiosk.state)
    capsys.readouterr()
    for older_or_same in (first, second):
        assert update(kiosk.state, older_or_same) == 0
        out = capsys.readouterr().out
        assert "is not newer than the one this device holds (2); nothing changed" in out
        assert held(kiosk.state) == newest
    assert set(Installed.open(kiosk.state).revocations().revoked) == {two.claims.device_id, three.claims.device_id}


def test_a_device_enrolled_after_the_package_is_added_from_a_stick(world: World, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    kiosk = world.installed("kiosk1")
    late = late_certificate(world, "late")
    late_id = certs.verify_device(certs.load_certificate(late), world.authority.cert).device_id
    assert Installed.open(kiosk.state).roster().member(late_id) is None
    assert update(kiosk.state, stick(tmp_path, "late.crt", late)) == 0
    assert f"added to the roster: device {late_id} (kiosk, branch 1001)" in capsys.readouterr().out
    assert Installed.open(kiosk.state).roster().member(late_id) is not None
    assert update(kiosk.state, stick(tmp_path, "late.crt", late)) == 0
    assert "already in the roster; nothing changed" in capsys.readouterr().out
    stranger = make_world(tmp_path / "stranger").installed("stranger")
    assert update(kiosk.state, stick(tmp_path, "stranger.crt", certs.cert_pem(stranger.device_cert))) == 1
    assert "not a device certificate of this election's authority" in capsys.readouterr().err


def test_seal_adds_the_list_to_a_package_and_install_keeps_it(world: World, tmp_path: Path) -> None:
    lost = world.installed("kiosk1")
    state, cert = world.device("kiosk2")
    pkg = world.package("PKG-late")
    world.authority.revoke(lost.claims.device_id, NOW)
    assert authority_main(["seal", "--dir", str(world.authority.folder), "--package", str(pkg)]) == 0
    installed = install(state, pkg, cert, world.authority.folder / "authority.crt")
    assert installed.revocations().number == 1 and lost.claims.device_id in installed.revocations().revoked


def test_a_package_carrying_a_forged_list_is_refused_at_install(world: World, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    state, cert = world.device("kiosk1")
    pkg = world.package("PKG-forged")
    (pkg / revocation.FILE).write_bytes(forged_lists(world, tmp_path, "00" * 8)["other authority"])
    assert provision_main(["install", "--state", str(state), "--package", str(pkg), "--cert", str(cert),
                           "--authority", str(world.authority.folder / "authority.crt")]) == 1
    assert "package's revocation list: revocation list is not signed by this election's authority" in \
        capsys.readouterr().err
    assert held(state) is None and not (state / "current").exists()
