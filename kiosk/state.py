"""A provisioned device's state folder: keys, the installed package, the ledger.

Layout (all under STATE):
  keys/signing.key, keys/unwrap.key   device private keys, mode 0600
  device.csr                          the enrollment request
  current -> packages/<id>            the installed package (swapped atomically)
  packages/<id>/                      package files + device.crt + device.envelope (a console's: no registry)
  ledger.sqlite                       the ledger (WAL)
  staff.json                          staff accounts: names and PIN hashes sealed to the data key, lock-outs
  audit.log, audit.log.security       every log line the device wrote (no personal data); its warnings
                                      and errors go to the second, which never rotates
  exports.json, retired.json          the latest close-of-polls export; elections wiped after
  roster/<device>.pem                 devices enrolled after the package was built (authority-signed)
  revocations.json                    the newest revocation list the authority signed
  .app.lock                           held (flock) while the kiosk app or the console runs

Nothing here opens the registry, the index secret or the data key on its own:
device.envelope holds one share, and the other comes at start of day
(kiosk.trust.daykeys); the unlocked keys live in memory, shared by this boot's
processes through kiosk.store.unlock_memory.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from kiosk.core.election import ConfigRefused, ElectionConfig, config_from_mapping
from kiosk.store.ledger import Ledger
from kiosk.store.outbox import CaseOutbox
from kiosk.logbook import Event, log
from kiosk.store import unlock_memory
from kiosk.store.registry import Registry
from kiosk.store.staff import StaffBook
from kiosk.trust import bundle, certs, daykeys, envelope, manifest, officials, revocation
from kiosk.trust.roster import Roster
from kiosk.trust.sealed import DataKeys

KEYS = "keys"
SIGNING_KEY = "keys/signing.key"
UNWRAP_KEY = "keys/unwrap.key"
REQUEST = "device.csr"
CURRENT = "current"
PACKAGES = "packages"
DEVICE_CERT = "device.crt"
DEVICE_ENVELOPE = "device.envelope"   # in the installed package: this device's own envelope (one share)
INSTALLED_INFO = "installed.json"     # in the installed package: when, which package, the device's role
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


class DeviceLocked(StateRefused):
    """The device has not been unlocked since it started: the registry and the data key are out of reach."""


class UnlockRefused(StateRefused):
    """A share or recovery code that does not unlock this device."""


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
    # Envelopes stay in the package on the stick: the install keeps only this device's. A console keeps no registry.
    names = [n for n in signed.files if not n.startswith("envelopes/")]
    if not _keeps_registry(package_dir):
        names = [n for n in names if n != REGISTRY_FILE]
    if part is Part.SMALL:
        names = [n for n in names if n != REGISTRY_FILE]
    elif part is Part.REGISTRY:
        names = [n for n in names if n == REGISTRY_FILE]
    return manifest.first_difference(package_dir, signed, names)


def _keeps_registry(package_dir: Path) -> bool:
    """Whether this install holds the registry (a console's does not: it never looks a voter up)."""
    try:
        role = json.loads((package_dir / INSTALLED_INFO).read_text("utf-8")).get("role")
        return bool(role != certs.Role.REP.value)
    except (OSError, ValueError, AttributeError):
        return True


@dataclass(frozen=True, slots=True)
class Installed:
    """What a provisioned device needs to serve: config, identity, and, once unlocked, its keys.

    `day` and `secrets` exist only in memory, after the start-of-day unlock; a
    locked device can still seal records (the technician sets the head's PIN)
    and keep its links, but it opens no registry and reads no sealed record.
    """

    state: Path
    package_dir: Path
    config: ElectionConfig
    authority_cert: x509.Certificate
    device_cert: x509.Certificate
    claims: certs.DeviceClaims
    envelope: daykeys.DeviceEnvelope
    day: bytes | None = None
    secrets: daykeys.Secrets | None = None

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
            contents = _own_envelope(package_dir, authority, claims, load_unwrap_key(state))
        except (OSError, ValueError, ConfigRefused, certs.CertificateRefused) as exc:
            raise StateRefused(f"installed package is unreadable: {exc}") from exc
        locked = cls(state, package_dir.resolve(), config, authority, device, claims, contents)
        remembered = unlock_memory.recall(config.id, claims.device_id)
        if remembered is not None:
            try:
                return locked._unlocked(remembered)
            except UnlockRefused:
                unlock_memory.forget(config.id, claims.device_id)   # another package's: useless now
        return locked

    # -- the start-of-day unlock ----------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """Whether the day's unlock is still to come."""
        return self.day is None

    def unlock(self, other_share: bytes) -> Installed:
        """This device unlocked with the other share (from a card, the console or a recovery code).

        The share is remembered in memory for this boot's other processes; UnlockRefused when it is not
        this device's, and nothing changes.
        """
        try:
            opened = self._unlocked(other_share)
        except UnlockRefused:
            log(Event.UNLOCK_REFUSED, device=self.claims.device_id)
            raise
        unlock_memory.remember(self.config.id, self.claims.device_id, other_share)
        log(Event.UNLOCKED, device=self.claims.device_id)
        return opened

    def unlock_with_code(self, typed: str) -> Installed:
        """Unlock with the recovery code of the branch's sealed envelope.

        RecoveryCodeRefused (a ValueError) for a code that cannot be right, before any slow work;
        UnlockRefused for a well-formed code of another device.
        """
        share = daykeys.share_from_recovery_code(typed, self.config.id, self.claims.device_id)
        return self.unlock(share)

    def lock(self) -> Installed:
        """Forget the day's unlock in every process of this boot."""
        unlock_memory.forget(self.config.id, self.claims.device_id)
        log(Event.LOCKED, device=self.claims.device_id)
        return Installed(self.state, self.package_dir, self.config, self.authority_cert, self.device_cert,
                         self.claims, self.envelope)

    def _unlocked(self, other_share: bytes) -> Installed:
        election, device = self.config.id, self.claims.device_id
        try:
            day = daykeys.day_key(self.envelope.share, other_share, election, device)
            secrets = daykeys.unlock(day, self.envelope.locked, election, device)
        except daykeys.ShareRefused as exc:
            raise UnlockRefused(str(exc)) from exc
        return Installed(self.state, self.package_dir, self.config, self.authority_cert, self.device_cert,
                         self.claims, self.envelope, day, secrets)

    def _secrets(self) -> daykeys.Secrets:
        if self.secrets is None:
            raise DeviceLocked("the device is locked: unlock it at start of day (the branch head's card, the "
                               "representative's console, or the recovery code)")
        return self.secrets

    @property
    def registry_key(self) -> bytes:
        """The registry key (in memory only); DeviceLocked before the unlock, StateRefused on a console."""
        key = self._secrets().registry_key
        if key is None:
            raise StateRefused("a representative's console holds no registry")
        return key

    @property
    def officials_key(self) -> bytes:
        """The key officials' national codes are hashed with in the signed officials roster."""
        return self._secrets().officials_key

    def kiosk_share(self, kiosk_id: str) -> bytes | None:
        """A console's: the other share of one of its kiosks, to send when the representative confirms."""
        return self._secrets().kiosk_shares.get(kiosk_id)

    def data_keys(self) -> DataKeys:
        """The data key: the public half always, the private half once unlocked."""
        return self.envelope.data_keys(self.day)

    def staff_book(self, clock: Callable[[], float] = time.time) -> StaffBook:
        """This device's staff accounts, sealed to its data key (names and PINs readable once unlocked)."""
        return StaffBook(self.state / STAFF, self.data_keys(), clock)

    def open_registry(self) -> Registry:
        """The registry, ready for lookups (DeviceLocked before the unlock)."""
        return Registry(self.package_dir / REGISTRY_FILE, self.registry_key)

    def open_ledger(self, read_only: bool = False) -> Ledger:
        """This device's ledger for this election (`read_only`: for a look that must work on a full disk)."""
        consoles = {m.device_id: m.public_key for m in self.roster().of(certs.Role.REP, self.claims.branches)}
        return Ledger(self.state / LEDGER, self.config.id, self.claims.device_id, load_signing_key(self.state),
                      self.envelope.index_check, rep_keys=consoles.get, read_only=read_only)

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

    def officials_roster(self) -> officials.OfficialsRoster:
        """The signed officials roster the package carries; StateRefused when it is missing or not the authority's."""
        public = self.authority_cert.public_key()
        assert isinstance(public, ed25519.Ed25519PublicKey)
        try:
            return officials.parse((self.package_dir / officials.FILE).read_bytes(), public, self.config.id)
        except OSError as exc:
            raise StateRefused("the installed package carries no officials roster: rebuild the package") from exc
        except officials.OfficialsRefused as exc:
            raise StateRefused(str(exc)) from exc

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
        return CaseOutbox(ledger, self.data_keys())

    def device_public_key(self) -> ed25519.Ed25519PublicKey:
        """The key that signed this device's ledger, as the authority certified it."""
        key = self.device_cert.public_key()
        assert isinstance(key, ed25519.Ed25519PublicKey)
        return key


def _own_envelope(package_dir: Path, authority: x509.Certificate, claims: certs.DeviceClaims,
                  unwrap: x25519.X25519PrivateKey) -> daykeys.DeviceEnvelope:
    """Open the device's envelope with its at-rest key: one share and the locked secrets, nothing usable alone."""
    public = authority.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise StateRefused("the authority's key is not Ed25519")
    try:
        sealed = envelope.parse((package_dir / DEVICE_ENVELOPE).read_bytes(), public)
        if (sealed.election_id, sealed.device_id) != (claims.election_id, claims.device_id):
            raise StateRefused("the installed envelope is addressed to another device or election")
        return daykeys.DeviceEnvelope.from_bytes(envelope.open_envelope(sealed, unwrap))
    except FileNotFoundError as exc:
        raise StateRefused("the installed package was installed by an older version: install it again") from exc
    except (envelope.EnvelopeRefused, daykeys.ShareRefused) as exc:
        raise StateRefused(f"the installed envelope does not open: {exc}") from exc
