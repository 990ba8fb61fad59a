"""A provisioned device's state folder: keys, the installed package, the ledger.

Layout (all under STATE):
  keys/signing.key, keys/unwrap.key   device private keys, mode 0600
  device.csr                          the enrollment request
  current -> packages/<id>            the installed package (swapped atomically)
  packages/<id>/                      package files + device.crt + registry.key
  ledger.sqlite                       the ledger (WAL)
  staff.json                          staff accounts: scrypt PIN hashes, lock-outs (0600)
  audit.log, audit.log.security       every log line the device wrote (no personal data); its warnings
                                      and errors go to the second, which never rotates
  exports.json, retired.json          the latest close-of-polls export; elections wiped after
  roster/<device>.pem                 devices enrolled after the package was built (authority-signed)
  revocations.json                    the newest revocation list the authority signed
  .app.lock                           held (flock) while the kiosk app or the console runs
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from kiosk.core.election import ConfigRefused, ElectionConfig, config_from_mapping
from kiosk.store.ledger import Ledger
from kiosk.store.outbox import CaseOutbox
from kiosk.store.registry import Registry, RegistryKeys
from kiosk.trust import bundle, certs, manifest, revocation
from kiosk.trust.roster import Roster

KEYS = "keys"
SIGNING_KEY = "keys/signing.key"
UNWRAP_KEY = "keys/unwrap.key"
REQUEST = "device.csr"
CURRENT = "current"
PACKAGES = "packages"
DEVICE_CERT = "device.crt"
REGISTRY_KEY = "registry.key"
LEDGER = "ledger.sqlite"
STAFF = "staff.json"
EXPORT_KEY = "export.pub"   # in the package: the authority's key for close-of-polls bundles
EXPORTS = "exports.json"    # the latest export's record, which `wipe` checks
RETIRED = "retired.json"    # elections this device was wiped after; survives the wipe
APP_LOCK = ".app.lock"      # held while the app or the console runs on this state folder
AUTHORITY_CERT = "authority.crt"   # in the package: the election authority's certificate
REGISTRY_FILE = "registry.sqlite"  # in the package: the registry, by far its largest file


class StateRefused(Exception):
    """The state folder is not initialised or holds no installed package."""


def claim_app_lock(state: Path) -> int:
    """Hold the state folder for a running app (released when the process ends, even by kill -9).

    Two apps on one folder would each stamp events; a wipe under a running app would pull files from under it.
    """
    fd = os.open(state / APP_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateRefused("the app already runs on this state folder (systemctl stop kiosk first)") from None
    return fd


def app_running(state: Path) -> bool:
    """Whether an app holds the state folder now."""
    try:
        fd = os.open(state / APP_LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def retired_elections(state: Path) -> list[str]:
    """Elections this device was wiped after (`kiosk-provision wipe` keeps this list, and only this)."""
    try:
        data = json.loads((state / RETIRED).read_text("utf-8"))
        return [e for e in data.get("elections", []) if isinstance(e, str)]
    except (OSError, ValueError, AttributeError):
        return []


def load_signing_key(state: Path) -> ed25519.Ed25519PrivateKey:
    """The device's Ed25519 key (TLS and ledger signatures)."""
    key = _load_private(state / SIGNING_KEY)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise StateRefused("signing key is not Ed25519")
    return key


def load_unwrap_key(state: Path) -> x25519.X25519PrivateKey:
    """The device's X25519 key (opens the registry key's envelope)."""
    key = _load_private(state / UNWRAP_KEY)
    if not isinstance(key, x25519.X25519PrivateKey):
        raise StateRefused("unwrap key is not X25519")
    return key


def _load_private(path: Path) -> object:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError as exc:
        raise StateRefused("device is not initialised (run kiosk-provision init)") from exc
    except ValueError as exc:
        raise StateRefused(f"{path.name} is not a readable private key") from exc


class Part(Enum):
    """Which installed files a re-check reads."""

    SMALL = "small"          # settings, certificates, anchors, export key, roster entries: checked before serving
    REGISTRY = "registry"    # every byte of the registry: long, so the apps check it in the background
    ALL = "all"


def recheck_installed(package_dir: Path, part: Part) -> manifest.Difference | None:
    """The first installed file that is not as the authority signed it, or None; reads only what `part` names.

    Needs nothing but the package folder, so an app can check before it trusts
    (or even parses) any of the files. When the signature fails, the authority's
    certificate is named if it is what changed, otherwise the manifest.
    """
    try:
        data = (package_dir / manifest.MANIFEST).read_bytes()
        signature = (package_dir / manifest.SIGNATURE).read_bytes()
    except OSError:
        return manifest.Difference(manifest.MANIFEST, manifest.Change.MISSING)
    try:
        pem = (package_dir / AUTHORITY_CERT).read_bytes()
    except OSError:
        return manifest.Difference(AUTHORITY_CERT, manifest.Change.MISSING)
    try:
        public = certs.load_certificate(pem).public_key()
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise manifest.ManifestRefused("not an Ed25519 authority")
        signed = manifest.load_verified(data, signature, public)
    except (certs.CertificateRefused, manifest.ManifestRefused):
        listed = manifest.listed_hash(data, AUTHORITY_CERT)
        if listed is not None and listed != hashlib.sha256(pem).hexdigest():
            return manifest.Difference(AUTHORITY_CERT, manifest.Change.ALTERED)
        return manifest.Difference(manifest.MANIFEST, manifest.Change.UNSIGNED)
    # Envelopes stay in the package on the stick: the install keeps only the registry key they opened.
    names = [n for n in signed.files if not n.startswith("envelopes/")]
    if part is Part.SMALL:
        names = [n for n in names if n != REGISTRY_FILE]
    elif part is Part.REGISTRY:
        names = [n for n in names if n == REGISTRY_FILE]
    return manifest.first_difference(package_dir, signed, names)


@dataclass(frozen=True, slots=True)
class Installed:
    """What a provisioned device needs to serve: config, identity, registry key."""

    state: Path
    package_dir: Path
    config: ElectionConfig
    authority_cert: x509.Certificate
    device_cert: x509.Certificate
    claims: certs.DeviceClaims
    registry_key: bytes

    @classmethod
    def open(cls, state: Path) -> Installed:
        """Read the installed package's small files (the registry itself is opened lazily)."""
        package_dir = state / CURRENT
        if not package_dir.is_dir():
            raise StateRefused("no election package is installed (run kiosk-provision install)")
        try:
            config = config_from_mapping(json.loads((package_dir / "election.json").read_text("utf-8")))
            authority = certs.load_certificate((package_dir / "authority.crt").read_bytes())
            device = certs.load_certificate((package_dir / DEVICE_CERT).read_bytes())
            claims = certs.verify_device(device, authority)
            registry_key = (package_dir / REGISTRY_KEY).read_bytes()
        except (OSError, ValueError, ConfigRefused, certs.CertificateRefused) as exc:
            raise StateRefused(f"installed package is unreadable: {exc}") from exc
        return cls(state, package_dir.resolve(), config, authority, device, claims, registry_key)

    def open_registry(self) -> Registry:
        """The registry, ready for lookups."""
        return Registry(self.package_dir / "registry.sqlite", self.registry_key)

    def open_ledger(self, read_only: bool = False) -> Ledger:
        """This device's ledger for this election (`read_only`: for a look that must work on a full disk)."""
        consoles = {m.device_id: m.public_key for m in self.roster().of(certs.Role.REP, self.claims.branches)}
        return Ledger(self.state / LEDGER, self.config.id, self.claims.device_id, load_signing_key(self.state),
                      RegistryKeys.derive(self.registry_key).index_check, rep_keys=consoles.get, read_only=read_only)

    def revocations(self) -> revocation.RevocationList:
        """The newest signed revocation list this device holds (an empty one before any arrived)."""
        public = self.authority_cert.public_key()
        assert isinstance(public, ed25519.Ed25519PublicKey)
        try:
            return revocation.parse((self.state / revocation.FILE).read_bytes(), public, self.config.id)
        except (OSError, revocation.RevocationRefused):
            return revocation.empty(self.config.id)

    def roster(self) -> Roster:
        """The election's devices (package roster and later additions) under the revocation list in force."""
        return Roster.load([self.package_dir, self.state], self.authority_cert, self.revocations())

    def card_anchors(self) -> list[x509.Certificate]:
        """The election's smart-card trust anchors, as the signed package carries them."""
        return [certs.load_certificate((self.package_dir / name).read_bytes())
                for name in self.config.card_trust_anchors]

    def verify_files(self) -> str | None:
        """Re-hash every installed file against the signed manifest: the first difference as one line, or None.

        Reads every byte of the registry (the technician's self-test); the apps
        split it with `recheck_installed`: the small files before serving, the
        registry in the background.
        """
        difference = recheck_installed(self.package_dir, Part.ALL)
        return difference.message() if difference is not None else None

    def export_recipient(self) -> x25519.X25519PublicKey:
        """The authority's key that this device's close-of-polls bundle is encrypted to (signed in the package)."""
        try:
            return bundle.load_recipient((self.package_dir / EXPORT_KEY).read_bytes())
        except (OSError, ValueError) as exc:
            raise StateRefused("the installed package carries no export key; install a package built by "
                               "this version") from exc

    def open_outbox(self, ledger: Ledger) -> CaseOutbox:
        """This kiosk's cases for the representative, on the ledger's connection (one transaction for both)."""
        return CaseOutbox(ledger)

    def device_public_key(self) -> ed25519.Ed25519PublicKey:
        """The key that signed this device's ledger, as the authority certified it."""
        key = self.device_cert.public_key()
        assert isinstance(key, ed25519.Ed25519PublicKey)
        return key
