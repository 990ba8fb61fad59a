"""The technician's side: create a device's keys, then install a signed election package.

Install verifies everything before the device serves anything: the authority,
the manifest signature, every file's hash (computed while copying, so the
package is read once), the device certificate and the envelope. It stages the
copy beside the live one and swaps a symlink, so a failed install leaves the
previous state as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from kiosk.core.election import ConfigRefused, config_from_mapping
from kiosk.logbook import Event, log
from kiosk.state import (CURRENT, DEVICE_CERT, DEVICE_ENVELOPE, EXPORT_KEY, INSTALLED_INFO, KEYS, LEDGER, PACKAGES,
                         REGISTRY_FILE, REQUEST, SIGNING_KEY, UNWRAP_KEY, Installed, StateRefused, load_signing_key, load_unwrap_key,
                         retired_elections)
from kiosk.store.atomic import fsync_dir, write_atomic
from kiosk.store.ledger import ledger_identity
from kiosk.store.registry import RegistryError, read_meta
from kiosk.trust import certs, daykeys, envelope, manifest, revocation
from kiosk.trust.live import Refused, adopt_revocations, check_revocations
from kiosk.trust.roster import ROSTER_DIR, member_from_pem
from provisioning.device_folder import BUILDS, NotADeviceFolder, check_fresh, read_marker, write_marker

_CHUNK = 1 << 20


class InstallRefused(Exception):
    """A package or certificate the device will not install, with a one-line reason."""


def init_device(state: Path) -> x509.CertificateSigningRequest:
    """Create the device's signing and unwrap keys and its enrollment request; never overwrites keys.

    Only in a missing or empty folder, or one that is already this device's
    state: keys written into another folder (the authority's) would make a
    later wipe delete what is not the device's.
    """
    try:
        check_fresh(state)
    except NotADeviceFolder as exc:
        raise InstallRefused(str(exc)) from exc
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (state / SIGNING_KEY).exists() or (state / UNWRAP_KEY).exists():
        raise InstallRefused(f"{state} already holds device keys; wipe it before initialising again")
    signing = ed25519.Ed25519PrivateKey.generate()
    unwrap = x25519.X25519PrivateKey.generate()
    # The marker first: a folder left by a crash part-way through is still known as this device's.
    write_marker(state, certs.device_id_for(signing.public_key()))
    (state / KEYS).mkdir(mode=0o700, exist_ok=True)
    for path, key in ((state / SIGNING_KEY, signing), (state / UNWRAP_KEY, unwrap)):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_atomic(path, pem, mode=0o600)
    csr = certs.make_request(signing, unwrap)
    write_atomic(state / REQUEST, csr.public_bytes(serialization.Encoding.PEM))
    return csr


def install(state: Path, package: Path, cert_path: Path, authority_cert_path: Path) -> Installed:
    """Verify `package` for this device and make it the installed one."""
    log(Event.INSTALL_STARTED)
    try:
        installed = _install(state, package, cert_path, authority_cert_path)
    except OSError as exc:
        refused = InstallRefused(f"cannot write in {state}: {exc.strerror or exc}; free space on the device's "
                                 "storage and install again")
        log(Event.INSTALL_REFUSED, reason=str(refused))
        raise refused from exc
    except InstallRefused as exc:
        log(Event.INSTALL_REFUSED, reason=str(exc))
        raise
    log(Event.INSTALLED, election=installed.config.id, device=installed.claims.device_id)
    return installed


def _install(state: Path, package: Path, cert_path: Path, authority_cert_path: Path) -> Installed:
    try:
        signing, unwrap = load_signing_key(state), load_unwrap_key(state)
    except StateRefused as exc:
        raise InstallRefused(str(exc)) from exc
    authority_pem = _read(authority_cert_path, "authority certificate")
    authority = _certificate(authority_pem, "authority certificate")
    try:
        election = certs.authority_election(authority)
    except certs.CertificateRefused as exc:
        raise InstallRefused(str(exc)) from exc
    if election["election"] in retired_elections(state):
        raise InstallRefused(f"this device was wiped after election {election['election']}; "
                             "it does not take that election's package again")
    if not package.is_dir():
        raise InstallRefused(f"no package folder at {package}")
    if _read(package / "authority.crt", "package's authority certificate") != authority_pem:
        raise InstallRefused("package is from another election authority")
    signed = _verified_manifest(package, authority, election["election"])
    _refuse_older_build(state, signed, authority)
    claims = _check_device_cert(_read(cert_path, "device certificate"), authority, signing, unwrap)
    sealed, contents = _open_envelope(package, authority, claims, unwrap)
    revocations = _revocations(package, authority, election["election"])
    ledger_fits = _ledger_fits(state, election["election"], contents.index_check)
    installed = _stage_and_swap(state, package, signed, cert_path, sealed, authority, claims.role)
    _record_build(state, signed, authority)
    _mark_enrolled(state, claims)
    if not ledger_fits:
        _remove_empty_ledger(state)
    if revocations is not None:
        adopt_revocations(state, authority, election["election"], revocations)   # kept only if newer
    return installed


def _mark_enrolled(state: Path, claims: certs.DeviceClaims) -> None:
    """Add the role the device was enrolled as to its marker; only informative (the certificate is the authority)."""
    marker = read_marker(state)
    if marker is not None and marker.get("role") != claims.role.value:
        try:
            write_marker(state, claims.device_id, claims.role.value)
        except OSError:
            pass   # the package is installed; the marker still names the device, which is what wipe needs


def _revocations(package: Path, authority: x509.Certificate, election_id: str) -> bytes | None:
    """The revocation list `kiosk-authority seal` added to the package, verified; None if it holds none."""
    path = package / revocation.FILE
    if not path.exists():
        return None
    data = _read(path, "package's revocation list")
    found = check_revocations(data, authority, election_id)
    if isinstance(found, Refused):
        raise InstallRefused(f"package's revocation list: {found.reason}")
    return data


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InstallRefused(f"{what} cannot be read: {path}") from exc


def _certificate(pem: bytes, what: str) -> x509.Certificate:
    try:
        return certs.load_certificate(pem)
    except certs.CertificateRefused as exc:
        raise InstallRefused(f"{what} is not a PEM certificate") from exc


def _verified_manifest(package: Path, authority: x509.Certificate, election_id: str) -> manifest.Manifest:
    public = authority.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    try:
        signed = manifest.load_verified(_read(package / manifest.MANIFEST, "manifest"),
                                        _read(package / manifest.SIGNATURE, "manifest signature"), public)
    except manifest.ManifestRefused as exc:
        raise InstallRefused(str(exc)) from exc
    if signed.election_id != election_id:
        raise InstallRefused("package is for another election")
    for required in ("registry.sqlite", "election.json", "authority.crt", EXPORT_KEY):
        if required not in signed.files:
            raise InstallRefused(f"manifest does not cover {required}")
    for path in package.rglob("*"):
        name = path.relative_to(package).as_posix()
        if path.is_dir() or name in (manifest.MANIFEST, manifest.SIGNATURE) or name in signed.files:
            continue
        if not name.startswith(("envelopes/", f"{ROSTER_DIR}/")) and name != revocation.FILE:
            raise InstallRefused(f"package holds a file its manifest does not list: {name}")
    return signed


def _refuse_older_build(state: Path, signed: manifest.Manifest, authority: x509.Certificate) -> None:
    """An older build of the installed election would bring back settings or a registry the authority replaced."""
    installed = _installed_build(state, signed.election_id, authority)
    if installed is not None and signed.build < installed:
        raise InstallRefused(f"package is build {signed.build} of election {signed.election_id}, older than the "
                             f"installed build {installed}; install build {installed} or newer")


def _installed_build(state: Path, election_id: str, authority: x509.Certificate) -> int | None:
    """The newest build of this election and authority the device has installed, if any.

    Read from the installed manifest (signed) and from the device's own record of its
    installs, so a deleted or damaged manifest does not open the way to an older build.
    """
    found = []
    current, public = state / CURRENT, authority.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    try:
        installed = manifest.load_verified((current / manifest.MANIFEST).read_bytes(),
                                           (current / manifest.SIGNATURE).read_bytes(), public)
        if installed.election_id == election_id:
            found.append(installed.build)
    except (OSError, manifest.ManifestRefused):
        pass   # no package yet, or one of another authority: the record below still counts
    try:
        record = json.loads((state / BUILDS).read_text("utf-8"))
        if (record.get("election"), record.get("authority")) == (election_id, certs.fingerprint(authority)) \
                and isinstance(record.get("build"), int):
            found.append(record["build"])
    except (OSError, ValueError, AttributeError):
        pass
    return max(found, default=None)


def _record_build(state: Path, signed: manifest.Manifest, authority: x509.Certificate) -> None:
    """Keep the newest build installed of this election: an older one stays refused whatever befalls the package."""
    newest = max(signed.build, _installed_build(state, signed.election_id, authority) or 0)
    write_atomic(state / BUILDS, json.dumps({"election": signed.election_id, "authority": certs.fingerprint(authority),
                                             "build": newest}).encode(), mode=0o600)


def _check_device_cert(pem: bytes, authority: x509.Certificate, signing: ed25519.Ed25519PrivateKey,
                       unwrap: x25519.X25519PrivateKey) -> certs.DeviceClaims:
    cert = _certificate(pem, "device certificate")
    try:
        claims = certs.verify_device(cert, authority)
    except certs.CertificateRefused as exc:
        raise InstallRefused(f"device certificate: {exc}") from exc
    if claims.device_id != certs.device_id_for(signing.public_key()):
        raise InstallRefused("device certificate was issued to another device")
    unwrap_raw = unwrap.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if claims.unwrap_public != unwrap_raw:
        raise InstallRefused("device certificate does not carry this device's unwrap key")
    return claims


def _open_envelope(package: Path, authority: x509.Certificate, claims: certs.DeviceClaims,
                   unwrap: x25519.X25519PrivateKey) -> tuple[bytes, daykeys.DeviceEnvelope]:
    """The device's envelope file and what it holds (one share: the install itself opens no registry)."""
    path = package / "envelopes" / f"{claims.device_id}.json"
    if not path.is_file():
        raise InstallRefused("this device is not enrolled in this package (no envelope for it)")
    public = authority.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    data = path.read_bytes()
    try:
        env = envelope.parse(data, public)
        if (env.election_id, env.device_id) != (claims.election_id, claims.device_id):
            raise InstallRefused("envelope is addressed to another device or election")
        return data, daykeys.DeviceEnvelope.from_bytes(envelope.open_envelope(env, unwrap))
    except (envelope.EnvelopeRefused, daykeys.ShareRefused) as exc:
        raise InstallRefused(str(exc)) from exc


def _ledger_fits(state: Path, election_id: str, index_check: str) -> bool:
    """Whether the device's ledger belongs with this package; refuses when it holds entries that don't.

    False means an empty ledger of another election or index: harmless, and
    removed once the new package is in place.
    """
    found = ledger_identity(state / LEDGER)
    if found is None:
        return True
    meta, count = found
    fits = meta.get("election") == election_id and meta.get("index_check", index_check) == index_check
    if fits or count == 0:
        return fits
    if meta.get("election") != election_id:
        raise InstallRefused(f"device holds {count} ledger entries of election {meta.get('election')}; "
                             "export and wipe first")
    raise InstallRefused(f"device holds {count} ledger entries kept under another registry index of this "
                         "election; this package would lose them")


def _remove_empty_ledger(state: Path) -> None:
    for path in state.glob(f"{LEDGER}*"):
        path.unlink()


def _copy_hashed(src: Path, dst: Path) -> manifest.FileEntry | None:
    """Copy a file, fsync it, and return the hash of what was read (one pass); None if unreadable."""
    digest, size = hashlib.sha256(), 0
    try:
        fin = open(src, "rb")
    except OSError:
        return None
    with fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return manifest.FileEntry(digest.hexdigest(), size)


def _copy_roster(package: Path, staging: Path, authority: x509.Certificate) -> None:
    """The enrolled devices' certificates (each signed by the authority; anything else is left behind)."""
    source = package / ROSTER_DIR
    if not source.is_dir():
        return
    (staging / ROSTER_DIR).mkdir(exist_ok=True)
    for path in sorted(source.glob("*.pem")):
        pem = _read(path, "roster entry")
        member = member_from_pem(pem, authority)
        if member is None or member.device_id != path.stem:
            raise InstallRefused(f"package roster entry {path.name} is not a certificate of this authority")
        write_atomic(staging / ROSTER_DIR / path.name, pem, mode=0o600)


def _stage_and_swap(state: Path, package: Path, signed: manifest.Manifest, cert_path: Path,
                    sealed: bytes, authority: x509.Certificate, role: certs.Role) -> Installed:
    packages = state / PACKAGES
    made_packages = not packages.exists()
    packages.mkdir(mode=0o700, exist_ok=True)
    # A fresh folder name per install, so re-installing the same package never
    # touches the folder `current` points at until the symlink has moved.
    package_id = f"{hashlib.sha256(signed.to_bytes()).hexdigest()[:16]}-{os.urandom(4).hex()}"
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=packages))
    target = Path(PACKAGES) / package_id
    try:
        for name, expected in sorted(signed.files.items()):
            if name.startswith("envelopes/") or (name == REGISTRY_FILE and role is certs.Role.REP):
                continue   # other devices' envelopes; a console keeps no registry
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            copied = _copy_hashed(package / name, staging / name)
            if copied is None:
                raise InstallRefused(f"package file missing: {name}")
            if copied != expected:
                raise InstallRefused(f"package file altered or truncated: {name}")
        for name in (manifest.MANIFEST, manifest.SIGNATURE):
            shutil.copyfile(package / name, staging / name)
        _copy_roster(package, staging, authority)
        shutil.copyfile(cert_path, staging / DEVICE_CERT)
        write_atomic(staging / DEVICE_ENVELOPE, sealed, mode=0o600)
        _check_parts(staging, signed.election_id, role)
        write_atomic(staging / INSTALLED_INFO, json.dumps({
            "package": package_id, "installed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "role": role.value,
        }).encode(), mode=0o600)
        fsync_dir(staging)
        os.rename(staging, packages / package_id)
        _swap_current(state, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not _points_at(state / CURRENT, target):   # renamed, but the swap failed: not left half-installed
            shutil.rmtree(packages / package_id, ignore_errors=True)
            (state / f".{CURRENT}.new").unlink(missing_ok=True)
            if made_packages:
                shutil.rmtree(packages, ignore_errors=True)
        if isinstance(exc, OSError):   # a full or failing disk: nothing of this install is left
            raise InstallRefused(f"cannot copy the package into {state}: {exc.strerror or exc}; nothing was "
                                 "changed (the previous install, if any, keeps serving): free space on the "
                                 "device's storage and install again") from exc
        raise
    _remove_other_packages(packages, package_id)
    return Installed.open(state)


def _check_parts(staging: Path, election_id: str, role: certs.Role) -> None:
    """The settings and the registry name this election (the registry itself opens only after the unlock)."""
    try:
        json_config = json.loads((staging / "election.json").read_text("utf-8"))
        config = config_from_mapping(json_config)
        registry_election = (election_id if role is certs.Role.REP
                             else read_meta(staging / REGISTRY_FILE).get("election"))
    except (ValueError, ConfigRefused) as exc:
        raise InstallRefused(f"package election settings are invalid: {exc}") from exc
    except RegistryError as exc:
        raise InstallRefused(str(exc)) from exc
    if config.id != election_id or registry_election != election_id:
        raise InstallRefused("package parts name different elections")


def _points_at(link: Path, target: Path) -> bool:
    try:
        return Path(os.readlink(link)) == target
    except OSError:
        return False


def _swap_current(state: Path, target: Path) -> None:
    link = state / CURRENT
    tmp = state / f".{CURRENT}.new"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(state)


def _remove_other_packages(packages: Path, keep: str) -> None:
    for old in packages.iterdir():
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
