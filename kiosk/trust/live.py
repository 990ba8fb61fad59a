"""The roster in force on a running device, and the ways a newer revocation list or device reaches it.

A revocation list arrives without a rebuild: from a USB stick (`kiosk-provision
update`), in a package `kiosk-authority seal` added it to, or relayed by the
console. Whatever the path, it is verified, kept in STATE/revocations.json only
if its number is higher than the one held, and the running links are told, so a
revoked device is refused from then on and an open channel to it is closed. A
device certificate of the same authority arrives the same way (STATE/roster/).
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.logbook import Event, log
from kiosk.state import Installed
from kiosk.store.atomic import write_atomic
from kiosk.trust import certs, revocation
from kiosk.trust.roster import ROSTER_DIR, Roster, RosterSource, member_from_pem

WATCH_SECONDS = 2.0
MAX_FILE = 256 * 1024        # a certificate or a revocation list read from a stick
_LOCK = ".revocations.lock"  # one writer at a time: the app and `kiosk-provision update` may both write


@dataclass(frozen=True, slots=True)
class Kept:
    """A newer list, verified and now the one in force."""

    revocations: revocation.RevocationList


@dataclass(frozen=True, slots=True)
class NotNewer:
    """A genuine list, but not newer than the one held: nothing changed."""

    held: int
    offered: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Not this election's authority's, or malformed: nothing changed."""

    reason: str


Offer = Kept | NotNewer | Refused


@dataclass(frozen=True, slots=True)
class MemberAdded:
    """A device enrolled after the package: peers now know its certificate."""

    member_id: str
    role: certs.Role
    branches: tuple[str, ...]
    replaced: bool


@dataclass(frozen=True, slots=True)
class MemberKnown:
    """The roster already holds this very certificate."""

    member_id: str


MemberOffer = MemberAdded | MemberKnown | Refused


def authority_key(authority: x509.Certificate) -> ed25519.Ed25519PublicKey:
    """The authority's Ed25519 key (installed packages carry no other kind)."""
    public = authority.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey)
    return public


def check_revocations(data: bytes, authority: x509.Certificate, election_id: str) -> revocation.RevocationList | Refused:
    """The verified list, or why it is refused; changes nothing."""
    try:
        return revocation.parse(data, authority_key(authority), election_id)
    except revocation.RevocationRefused as exc:
        return Refused(str(exc))


def held_revocations(state: Path, authority: x509.Certificate, election_id: str) -> revocation.RevocationList:
    """The newest list this device keeps (an empty one before any, or if the file is unreadable)."""
    found = check_revocations(_read(state / revocation.FILE), authority, election_id)
    return revocation.empty(election_id) if isinstance(found, Refused) else found


def adopt_revocations(state: Path, authority: x509.Certificate, election_id: str, data: bytes) -> Offer:
    """Keep `data` as the device's list if it verifies and its number is higher than the one held."""
    found = check_revocations(data, authority, election_id)
    if isinstance(found, Refused):
        log(Event.REVOCATIONS_REFUSED, reason=found.reason)
        return found
    with _locked(state):
        held = held_revocations(state, authority, election_id)
        if found.number <= held.number:
            return NotNewer(held.number, found.number)
        write_atomic(state / revocation.FILE, data)   # exactly the bytes verified
    log(Event.REVOCATIONS_KEPT, number=found.number, devices=len(found.revoked))
    return Kept(found)


def check_member(pem: bytes, authority: x509.Certificate, known: Roster) -> MemberOffer:
    """What adding this certificate to the roster would do; changes nothing."""
    member = member_from_pem(pem, authority)
    if member is None:
        return Refused("not a device certificate of this election's authority")
    held = known.member(member.device_id)
    if held is not None and held.fingerprint == member.fingerprint:
        return MemberKnown(member.device_id)
    return MemberAdded(member.device_id, member.role, member.branches, held is not None)


def add_member(state: Path, authority: x509.Certificate, known: Roster, pem: bytes) -> MemberOffer:
    """Keep a device certificate of this election as STATE/roster/<device id>.pem (a later enrollment)."""
    offer = check_member(pem, authority, known)
    if isinstance(offer, MemberAdded):
        folder = state / ROSTER_DIR
        folder.mkdir(exist_ok=True)
        write_atomic(folder / f"{offer.member_id}.pem", pem)
        log(Event.ROSTER_ADDED, device=offer.member_id, role=offer.role.value, replaced=offer.replaced)
    return offer


def admits(roster: Roster | RosterSource, device_id: str, role: certs.Role, branches: Iterable[str],
           now_ms: int | None = None) -> bool:
    """Whether the roster holds this device, of this role, for one of `branches`, and it is not revoked now.

    Given the RosterSource, an unknown device makes it read the folders again (rate-limited).
    """
    member = roster.member(device_id)
    if member is None or member.role is not role or frozenset(branches).isdisjoint(member.branches):
        return False
    return roster.refusal(device_id, member.fingerprint, now_ms) is None


class LiveRoster:
    """The running device's roster: one RosterSource for every handshake, re-read when its files change.

    Listeners (the courier, branch sync, the console's service) are told the new
    roster after a newer list or a new device certificate is in force, on the
    thread that noticed; they close what it no longer admits.
    """

    def __init__(self, installed: Installed, source: RosterSource | None = None) -> None:
        self._installed = installed
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Roster], None]] = []
        self._seen = self._files()
        self.source = source or RosterSource(installed.roster)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def current(self) -> Roster:
        """The roster in force now."""
        return self.source.current()

    def revocations(self) -> revocation.RevocationList:
        """The revocation list in force now (number 0 and no device before any arrived)."""
        return self.current().revocations

    def signed(self) -> bytes | None:
        """The list in force in its signed file form, to relay; None before any arrived."""
        if self.revocations().number == revocation.EMPTY_NUMBER:
            return None
        data = _read(self._installed.state / revocation.FILE)
        return data or None

    def subscribe(self, listener: Callable[[Roster], None]) -> None:
        """Be told each newer roster (a listener that raises is logged and never stops the others)."""
        with self._lock:
            self._listeners.append(listener)

    def offer(self, data: bytes) -> Offer:
        """A list from a peer or a stick: verified, kept if newer, and then in force at once."""
        installed = self._installed
        result = adopt_revocations(installed.state, installed.authority_cert, installed.config.id, data)
        if isinstance(result, Kept):
            self.refresh()
        return result

    def refresh(self) -> bool:
        """Re-read the roster if its files changed since last seen (a stick, another process); True if so."""
        files = self._files()
        with self._lock:
            if files == self._seen:
                return False
            self._seen = files
        roster = self.source.reload()
        self._tell(roster)
        return True

    def watch(self, seconds: float = WATCH_SECONDS) -> None:
        """Look for changed files every few seconds on a thread of its own, until close()."""
        if self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch, args=(seconds,), name="roster-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop watching; safe to call twice."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.join(timeout=10)

    def _watch(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.refresh()

    def _tell(self, roster: Roster) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(roster)
            except Exception as exc:  # one link's bug must not keep the others from hearing
                log(Event.LISTENER_FAILED, error=type(exc).__name__)

    def _files(self) -> tuple[tuple[int, int, int] | None, ...]:
        """What says the roster's files changed: the list's and the additions folder's identity and times."""
        state = self._installed.state
        return (_stat(state / revocation.FILE), _stat(state / ROSTER_DIR))


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE + 1)
    except OSError:
        return b""


@contextmanager
def _locked(state: Path) -> Iterator[None]:
    fd = os.open(state / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
