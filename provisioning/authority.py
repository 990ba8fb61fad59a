"""The election authority's folder: root key, certificate, election settings, device roster."""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from kiosk.core.election import ConfigRefused, ElectionConfig, config_from_mapping, config_from_toml
from kiosk.logbook import Event, log
from kiosk.store.atomic import write_atomic
from kiosk.store.documents import open_documents
from kiosk.store.registry import RegistryKeys
from kiosk.trust import certs, daykeys, revocation
from kiosk.trust.canonical import b64d, b64e

KEY = "authority.key"
CARD_ANCHORS = "card-anchors"   # the election's card trust anchors as the last build named them (public)
CERT = "authority.crt"
ELECTION = "election.json"
ROSTER = "roster.json"
INDEX_SECRET = "index.key"
EXPORT_KEY = "export.key"
BUILDS = "builds.json"          # the last package build's number: each build takes the next
DEVICE_SECRETS = "device-secrets"   # per device: its envelope share and its recovery code (0600)


class AuthorityRefused(Exception):
    """A request the authority will not carry out, with a one-line reason."""


@dataclass(frozen=True, slots=True)
class DeviceSecrets:
    """One device's two shares as the authority keeps them: the envelope's, and the recovery code's.

    The same for every build of the election, so a device's data key (staff records, cases) survives a
    package update; the recovery code is printed once for the branch's sealed envelope.
    """

    share: bytes
    recovery_code: str
    other_share: bytes


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A device the authority has issued a certificate to."""

    device_id: str
    role: certs.Role
    branches: tuple[str, ...]
    unwrap_public: bytes
    fingerprint: str
    cert_pem: bytes = b""   # empty for devices enrolled by a version that did not keep it


def load_election_toml(path: Path) -> ElectionConfig:
    """Read and validate an election TOML file."""
    try:
        return config_from_toml(path.read_bytes(), str(path))
    except FileNotFoundError as exc:
        raise AuthorityRefused(f"election config not found: {path}") from exc
    except OSError as exc:
        raise AuthorityRefused(f"election config cannot be read: {path}: {exc.strerror}") from exc
    except ConfigRefused as exc:
        raise AuthorityRefused(f"election config {path}: {exc}") from exc


class Authority:
    """An initialised authority folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            key = serialization.load_pem_private_key((folder / KEY).read_bytes(), None)
            self.cert = certs.load_certificate((folder / CERT).read_bytes())
            self.config = config_from_mapping(json.loads((folder / ELECTION).read_text("utf-8")))
        except (OSError, ValueError, ConfigRefused, certs.CertificateRefused) as exc:
            raise AuthorityRefused(f"{folder} is not an initialised authority folder") from exc
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise AuthorityRefused("authority key is not Ed25519")
        self.key = key

    def keep_card_anchors(self, anchors: dict[str, bytes]) -> None:
        """Keep the election's card trust anchors (public) as the last package build named them."""
        folder = self.folder / CARD_ANCHORS
        folder.mkdir(exist_ok=True)
        for stale in folder.glob("*.pem"):
            if stale.name not in anchors:
                stale.unlink()
        for name, pem in anchors.items():
            write_atomic(folder / name, pem)

    def card_anchors(self) -> list[x509.Certificate]:
        """The card trust anchors kept by the last build (none before one)."""
        return [certs.load_certificate(p.read_bytes()) for p in sorted((self.folder / CARD_ANCHORS).glob("*.pem"))]

    @classmethod
    def init(cls, folder: Path, config: ElectionConfig) -> Authority:
        """Create the root key and certificate for one election; refuses to overwrite."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (folder / KEY).exists() or (folder / CERT).exists():
            raise AuthorityRefused(f"{folder} already holds an authority; use a new folder per election")
        os.chmod(folder, 0o700)   # the root key, the export key, the reports: the authority's alone, whatever the umask
        key, cert = certs.new_authority(config.id, config.name, config.day.to_gregorian())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_atomic(folder / ELECTION, json.dumps(config.to_mapping(), ensure_ascii=False, indent=1).encode())
        write_atomic(folder / CERT, certs.cert_pem(cert))
        write_atomic(folder / INDEX_SECRET, os.urandom(32), mode=0o600)
        write_atomic(folder / KEY, pem, mode=0o600)
        authority = cls(folder)
        authority.export_key()
        return authority

    def index_secret(self) -> bytes:
        """The election's index secret: the same for every build, so ledgers survive a rebuild."""
        try:
            secret = (self.folder / INDEX_SECRET).read_bytes()
        except OSError as exc:
            raise AuthorityRefused("authority folder has no index secret") from exc
        if len(secret) != 32:
            raise AuthorityRefused("authority index secret is damaged")
        return secret

    def export_key(self) -> x25519.X25519PrivateKey:
        """The key close-of-polls bundles are encrypted to; made on first use (folders from before it had none)."""
        path = self.folder / EXPORT_KEY
        if not path.exists():
            fresh = x25519.X25519PrivateKey.generate()
            write_atomic(path, fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()), mode=0o600)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise AuthorityRefused("authority export key is unreadable") from exc
        if not isinstance(key, x25519.X25519PrivateKey):
            raise AuthorityRefused("authority export key is not X25519")
        return key

    def enroll(self, csr_pem: bytes, role: certs.Role, branches: tuple[str, ...]) -> x509.Certificate:
        """Issue a device certificate and record the device in the roster."""
        unknown = sorted(set(branches) - self.config.branch_codes())
        if not branches or unknown:
            raise AuthorityRefused(f"branch not in this election: {', '.join(unknown) or '(none given)'}")
        if role is certs.Role.KIOSK and len(branches) != 1:
            raise AuthorityRefused("a kiosk serves exactly one branch")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
            cert = certs.issue_device(self.key, self.cert, csr, role, branches)
        except ValueError as exc:
            raise AuthorityRefused("not a PEM certificate request") from exc
        except certs.CertificateRefused as exc:
            raise AuthorityRefused(str(exc)) from exc
        claims = certs.verify_device(cert, self.cert)
        log(Event.DEVICE_ENROLLED, device=claims.device_id, role=role.value, branches=" ".join(branches))
        with open_documents(self.folder / ROSTER) as roster:
            table = roster.table("devices")
            table.remove(lambda d: d.get("device_id") == claims.device_id)
            table.insert({
                "device_id": claims.device_id, "role": role.value, "branches": list(branches),
                "unwrap_public": b64e(claims.unwrap_public), "fingerprint": certs.fingerprint(cert),
                "cert": certs.cert_pem(cert).decode("ascii"),
                "enrolled_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            })
        return cert

    def roster(self) -> list[Enrolled]:
        """Every enrolled device, in enrollment order."""
        with open_documents(self.folder / ROSTER) as roster:
            return [
                Enrolled(d["device_id"], certs.Role(d["role"]), tuple(d["branches"]),
                         b64d(d["unwrap_public"]), d["fingerprint"], str(d.get("cert", "")).encode("ascii"))
                for d in roster.table("devices").all()
            ]

    def revocations(self) -> revocation.RevocationList:
        """The newest revocation list this authority signed (an empty one before the first)."""
        try:
            return revocation.parse((self.folder / revocation.FILE).read_bytes(), self.key.public_key(),
                                    self.config.id)
        except FileNotFoundError:
            return revocation.empty(self.config.id)
        except (OSError, revocation.RevocationRefused) as exc:
            raise AuthorityRefused(f"the authority's revocation list is unreadable: {exc}") from exc

    def revoke(self, device_id: str, revoked_from: dt.datetime) -> bytes:
        """Add a device to a new, higher-numbered revocation list, keep it, and return the signed file."""
        if device_id not in {d.device_id for d in self.roster()}:
            raise AuthorityRefused(f"device {device_id} is not enrolled in this election")
        if revoked_from.tzinfo is None:
            raise AuthorityRefused("the revocation time needs a time zone")
        current = self.revocations()
        when = revoked_from.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        fresh = revocation.RevocationList(
            self.config.id, current.number + 1, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            {**current.revoked, device_id: when})
        signed = revocation.sign(fresh, self.key)
        write_atomic(self.folder / revocation.FILE, signed)
        log(Event.DEVICE_REVOKED, device=device_id, number=fresh.number)
        return signed

    def next_build(self) -> int:
        """The next package build's number, kept in the folder: devices refuse a build older than theirs.

        Two builds at once from one folder still get different numbers: the counter is taken under a lock
        on the folder itself, and replaced atomically.
        """
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            try:
                last = json.loads((self.folder / BUILDS).read_text("utf-8"))["last"]
            except FileNotFoundError:
                last = 0
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise AuthorityRefused("the authority's build counter is unreadable") from exc
            if not isinstance(last, int) or isinstance(last, bool) or last < 0:
                raise AuthorityRefused("the authority's build counter is damaged")
            write_atomic(self.folder / BUILDS, json.dumps({"last": last + 1}).encode())
            return last + 1
        finally:
            os.close(folder)   # releases the lock

    def reports_dir(self) -> Path:
        """Where build reports and reject files go (never into a package: they hold personal data)."""
        path = self.folder / "reports"
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        return path

    def device_secrets(self, device_id: str) -> DeviceSecrets:
        """The device's shares, made on first use and kept in the authority's folder only."""
        folder = self.folder / DEVICE_SECRETS
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{device_id}.json"
        if not device_id.isalnum():
            raise AuthorityRefused("not a device id")
        if not path.exists():
            code = daykeys.new_recovery_code()
            other = daykeys.share_from_recovery_code(code, self.config.id, device_id)
            write_atomic(path, json.dumps({"share": b64e(os.urandom(daykeys.SHARE_BYTES)), "recovery_code": code,
                                           "other_share": b64e(other)}).encode(), mode=0o600)
        try:
            raw = json.loads(path.read_text("utf-8"))
            return DeviceSecrets(b64d(raw["share"]), str(raw["recovery_code"]), b64d(raw["other_share"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuthorityRefused(f"the secrets kept for device {device_id} are unreadable") from exc

    def keep_registry_key(self, registry_key: bytes) -> None:
        """Keep a package's registry key so devices enrolled later can get an envelope."""
        folder = self.folder / "registry-keys"
        folder.mkdir(mode=0o700, exist_ok=True)
        write_atomic(folder / f"{RegistryKeys.derive(registry_key).check}.key", registry_key, mode=0o600)

    def registry_key(self, key_check: str) -> bytes:
        """The registry key of a package this authority built, found by its key-check value."""
        path = self.folder / "registry-keys" / f"{key_check}.key"
        if not key_check.isalnum() or not path.is_file():
            raise AuthorityRefused("this package was not built by this authority")
        return path.read_bytes()
