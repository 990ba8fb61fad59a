"""Who is in the election: the enrolled devices as the authority signed them, and who is revoked.

Identity comes from here, never from a zeroconf advert: a device id maps to
the certificate the authority issued (so its fingerprint, role, branches and
public key), carried in the election package under `roster/` and in signed
additions a technician adds later (`STATE/roster/`). A certificate is its own
signed roster entry, so an addition needs no format of its own. The signed
revocation list shuts devices out from a given time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.trust import certs
from kiosk.trust.revocation import RevocationList, empty

ROSTER_DIR = "roster"     # in a package and in a state folder: <device id>.pem, one certificate each
MAX_MEMBERS = 10_000


@dataclass(frozen=True, slots=True)
class Member:
    """One enrolled device."""

    device_id: str
    role: certs.Role
    branches: tuple[str, ...]
    fingerprint: str
    public_key: ed25519.Ed25519PublicKey
    cert_pem: bytes


@dataclass(frozen=True)
class Roster:
    """The election's devices by id, and the revocation list in force."""

    members: dict[str, Member]
    revocations: RevocationList
    election_id: str = ""

    @classmethod
    def load(cls, folders: Iterable[Path], authority: x509.Certificate,
             revocations: RevocationList | None = None) -> Roster:
        """Every certificate under `folder/roster/` that this authority issued; anything else is skipped."""
        election = certs.authority_election(authority)["election"]
        members: dict[str, Member] = {}
        for folder in folders:
            directory = folder / ROSTER_DIR
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.pem"))[:MAX_MEMBERS]:
                member = member_from_pem(_read(path), authority)
                if member is not None and path.stem == member.device_id:
                    members[member.device_id] = member
        return cls(members, revocations or empty(election), election)

    def member(self, device_id: str) -> Member | None:
        """The enrolled device with this id, or None."""
        return self.members.get(device_id)

    def of(self, role: certs.Role, branches: Iterable[str]) -> list[Member]:
        """Members of one role serving any of `branches`."""
        wanted = frozenset(branches)
        return [m for m in self.members.values() if m.role is role and not wanted.isdisjoint(m.branches)]

    def revoked_from_ms(self, device_id: str) -> int | None:
        """When `device_id` is revoked from (ms since the epoch), or None."""
        return self.revocations.revoked_from_ms(device_id)

    def refusal(self, device_id: str, fingerprint: str, now_ms: int | None = None) -> str | None:
        """Why a peer presenting this certificate is refused, or None: enrolled, same certificate, not revoked."""
        member = self.members.get(device_id)
        if member is None:
            return "peer is not in the election's roster"
        if member.fingerprint != fingerprint.lower():
            return "peer certificate differs from the roster's"
        revoked = self.revoked_from_ms(device_id)
        if revoked is not None and (now_ms if now_ms is not None else time.time_ns() // 1_000_000) >= revoked:
            return "peer is revoked by the election authority"
        return None

    def with_revocations(self, revocations: RevocationList) -> Roster:
        """The same members under a newer revocation list."""
        return Roster(self.members, revocations, self.election_id)


def member_from_pem(pem: bytes, authority: x509.Certificate) -> Member | None:
    """The roster entry a certificate makes, if this authority issued it for this election; else None."""
    try:
        cert = certs.load_certificate(pem)
        claims = certs.verify_device(cert, authority)
    except certs.CertificateRefused:
        return None
    key = cert.public_key()
    assert isinstance(key, ed25519.Ed25519PublicKey)  # verify_device checked it
    return Member(claims.device_id, claims.role, claims.branches, certs.fingerprint(cert), key, certs.cert_pem(cert))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()[:16384]
    except OSError:
        return b""


class RosterSource:
    """The roster as the device's folders hold it now, re-read when a device it does not know shows up.

    A technician may add a device or a revocation list while the app runs; a peer
    unknown to the roster in memory makes it read the folders again (at most every
    `min_interval` seconds, so a stranger cannot make it read them on every message).
    """

    def __init__(self, load: Callable[[], Roster], min_interval: float = 0.5) -> None:
        self._load = load
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._roster = load()
        self._loaded_at = time.monotonic()

    def current(self) -> Roster:
        """The roster in memory."""
        with self._lock:
            return self._roster

    def reload(self) -> Roster:
        """Read the folders again now."""
        fresh = self._load()
        with self._lock:
            self._roster, self._loaded_at = fresh, time.monotonic()
        return fresh

    def replace(self, roster: Roster) -> None:
        """Use this roster (a newer revocation list arrived by another path)."""
        with self._lock:
            self._roster, self._loaded_at = roster, time.monotonic()

    def member(self, device_id: str) -> Member | None:
        """The enrolled device, reading the folders again if it is unknown and they were not read just now."""
        found = self.current().member(device_id)
        if found is None and self._stale():
            found = self.reload().member(device_id)
        return found

    def refusal(self, device_id: str, fingerprint: str, now_ms: int | None = None) -> str | None:
        """As Roster.refusal, after a re-read when the device is unknown."""
        self.member(device_id)
        return self.current().refusal(device_id, fingerprint, now_ms)

    def revoked_from_ms(self, device_id: str) -> int | None:
        """As Roster.revoked_from_ms, on the roster in memory."""
        return self.current().revoked_from_ms(device_id)

    def _stale(self) -> bool:
        with self._lock:
            return time.monotonic() - self._loaded_at >= self._min_interval
