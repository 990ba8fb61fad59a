"""The authority folder: one root per election, enrollment rules, a roster that persists, keys kept private."""
from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from helpers import World, write_election
from kiosk.trust import certs
from provisioning.authority import Authority, AuthorityRefused, load_election_toml
from provisioning.device import InstallRefused, init_device


def _csr(world: World, name: str) -> bytes:
    return init_device(world.root / name).public_bytes(serialization.Encoding.PEM)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_twice_in_the_same_folder_is_refused_and_keeps_the_first_root(world: World) -> None:
    folder = world.authority.folder
    before = {name: (folder / name).read_bytes() for name in ("authority.key", "authority.crt", "election.json")}
    other = write_election(world.root / "other", "other-1405")
    for election in (world.election, other):
        with pytest.raises(AuthorityRefused, match="already holds an authority"):
            Authority.init(folder, load_election_toml(election))
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert Authority(folder).config.id == "test-1405"


def test_an_uninitialised_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuthorityRefused, match="not an initialised authority folder"):
        Authority(tmp_path / "nothing-here")


@pytest.mark.parametrize("role, branches, message", [
    (certs.Role.KIOSK, ("9999",), "branch not in this election: 9999"),
    (certs.Role.REP, ("1001", "9999"), "branch not in this election: 9999"),
    (certs.Role.KIOSK, (), r"\(none given\)"),
    (certs.Role.KIOSK, ("1001", "1002"), "a kiosk serves exactly one branch"),
])
def test_enrollment_outside_the_rules_is_refused_and_not_recorded(
        world: World, role: certs.Role, branches: tuple[str, ...], message: str) -> None:
    csr = _csr(world, "k1")
    with pytest.raises(AuthorityRefused, match=message):
        world.authority.enroll(csr, role, branches)
    assert world.authority.roster() == []


def test_a_representative_may_serve_two_branches(world: World) -> None:
    cert = world.authority.enroll(_csr(world, "rep"), certs.Role.REP, ("1001", "1002"))
    claims = certs.verify_device(cert, world.authority.cert)
    assert claims.role is certs.Role.REP and claims.branches == ("1001", "1002")
    assert claims.election_id == "test-1405"
    [entry] = world.authority.roster()
    assert (entry.device_id, entry.role, entry.branches) == (claims.device_id, certs.Role.REP, ("1001", "1002"))


def _ec_request() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device x")]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def _request_without_unwrap_key() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device y")]))
           .sign(key, None))
    return csr.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize("request_pem, message", [
    (b"garbage", "not a PEM certificate request"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
     "not a PEM certificate request"),
    (_ec_request(), "request key is not Ed25519"),
    (_request_without_unwrap_key(), "no usable X25519 key"),
], ids=["garbage", "empty-pem", "p256-key", "no-unwrap-key"])
def test_a_bad_request_is_refused_and_not_recorded(world: World, request_pem: bytes, message: str) -> None:
    with pytest.raises(AuthorityRefused, match=message):
        world.authority.enroll(request_pem, certs.Role.KIOSK, ("1001",))
    assert world.authority.roster() == []


def test_the_roster_persists_and_re_enrolling_replaces_the_entry(world: World) -> None:
    first = world.authority.enroll(_csr(world, "k1"), certs.Role.KIOSK, ("1001",))
    second = world.authority.enroll(_csr(world, "k2"), certs.Role.KIOSK, ("1002",))
    ids = [certs.verify_device(c, world.authority.cert).device_id for c in (first, second)]
    reopened = Authority(world.authority.folder).roster()
    assert [(e.device_id, e.role, e.branches) for e in reopened] == [
        (ids[0], certs.Role.KIOSK, ("1001",)), (ids[1], certs.Role.KIOSK, ("1002",))]
    assert reopened[0].fingerprint == certs.fingerprint(first)
    # The same device moved to the other branch: one entry, the new branch.
    moved = world.authority.enroll((world.root / "k1" / "device.csr").read_bytes(), certs.Role.KIOSK, ("1002",))
    reopened = Authority(world.authority.folder).roster()
    assert sorted((e.device_id, e.branches) for e in reopened) == sorted([(ids[0], ("1002",)), (ids[1], ("1002",))])
    assert {e.fingerprint for e in reopened} == {certs.fingerprint(moved), certs.fingerprint(second)}


def test_private_keys_are_readable_by_their_owner_only(world: World) -> None:
    assert _mode(world.authority.folder / "authority.key") == 0o600
    state, _ = world.device("k1")
    assert _mode(state) == 0o700 and _mode(state / "keys") == 0o700
    for key in (state / "keys").iterdir():
        assert _mode(key) == 0o600, key.name
    assert sorted(p.name for p in (state / "keys").iterdir()) == ["signing.key", "unwrap.key"]
    world.package()
    kept = list((world.authority.folder / "registry-keys").iterdir())
    assert len(kept) == 1 and _mode(kept[0]) == 0o600
    assert _mode(world.authority.folder / "registry-keys") == 0o700


def test_a_device_is_never_initialised_twice(world: World) -> None:
    state, _ = world.device("k1")
    before = {p.name: p.read_bytes() for p in (state / "keys").iterdir()}
    with pytest.raises(InstallRefused, match="already holds device keys"):
        init_device(state)
    assert {p.name: p.read_bytes() for p in (state / "keys").iterdir()} == before


def test_an_authority_certificate_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    """A P-256 certificate, or one whose self-signature was broken, is no election root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "election x")])
    now = dt.datetime.now(dt.timezone.utc)
    p256 = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    with pytest.raises(certs.CertificateRefused, match="not Ed25519"):
        certs.authority_election(p256)
    _, good = certs.new_authority("e", "e", dt.date(2026, 5, 22))
    other_key, _ = certs.new_authority("e", "e", dt.date(2026, 5, 22))
    forged = (x509.CertificateBuilder().subject_name(good.subject).issuer_name(good.subject)
              .public_key(good.public_key()).serial_number(2).not_valid_before(good.not_valid_before_utc)
              .not_valid_after(good.not_valid_after_utc).add_extension(
                  good.extensions.get_extension_for_oid(certs.OID_ELECTION).value, critical=False)
              .sign(other_key, None))
    with pytest.raises(certs.CertificateRefused, match="not self-signed"):
        certs.authority_election(forged)


@pytest.mark.parametrize("made", ["missing", "existing"])
def test_the_authority_folder_is_the_authoritys_alone_whatever_the_umask(tmp_path: Path, made: str) -> None:
    """The folder holds the root key, the export key and the reports: no other account may list or enter it."""
    folder = tmp_path / "AUTH"
    if made == "existing":
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)                        # made beforehand in a shell, as a technician would
    election = write_election(tmp_path / "config")
    previous = os.umask(0o022)
    try:
        done = subprocess.run([str(Path(sys.executable).parent / "kiosk-authority"), "init", "--dir", str(folder),
                               "--election", str(election)], capture_output=True, text=True, timeout=120)
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert _mode(folder) == 0o700
