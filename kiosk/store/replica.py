"""Other kiosks' events in this kiosk's ledger file: what we hold, what we send, what we accept.

Each kiosk appends only its own events; the events of the other kiosks of the
branch arrive by branch sync (kiosk.net.sync) and are stored beside them in
the same table, never rewritten. A page received is accepted only if it
continues the device's chain from what we hold, every hash recomputes, the
hybrid clock only grows, and the device's signature on the page's newest
event verifies against a certificate the election authority issued for a
kiosk of our branch (checking every signature would dominate sync). A voter
who turns out live-checked-in on two kiosks is a double check-in: it is kept
until staff acknowledge it, and the acknowledgement is a signed ledger event.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.branch import Duplicate
from kiosk.core.outcome import Recorded
from kiosk.store.ledger import Event, Kind, Ledger, event_hash, genesis
from kiosk.trust import certs

PAGE = 100   # events per page: a page of the longest events stays well under the 64 KiB frame

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, cert BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS duplicates (
    voter BLOB NOT NULL, check_ins TEXT NOT NULL, found TEXT NOT NULL, acknowledged TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (voter, check_ins)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """A page accepted: how many events were new, and the voters they made double-checked-in."""

    new: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class PageRefused:
    """A page not stored, and why (safe to log: no voter data)."""

    reason: str


class Replica:
    """The branch's events as this kiosk holds them; shares the ledger's connection and its transactions."""

    def __init__(self, ledger: Ledger, authority: x509.Certificate, own_cert_pem: bytes,
                 branches: Sequence[str]) -> None:
        self._ledger = ledger
        self._db: sqlite3.Connection = ledger.connection
        self._authority = authority
        self._branches = frozenset(branches)
        self._election = certs.authority_election(authority)["election"]
        self._keys: dict[str, ed25519.Ed25519PublicKey] = {}
        with ledger.transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute("INSERT OR IGNORE INTO devices VALUES (?, ?)", (ledger.device_id, own_cert_pem))

    @property
    def device_id(self) -> str:
        """This kiosk."""
        return self._ledger.device_id

    def heads(self) -> dict[str, int]:
        """The highest sequence number held for every device (ours included)."""
        # One index seek per known device: a GROUP BY would scan every event, and senders ask often.
        devices = [d for (d,) in self._db.execute("SELECT device FROM devices")]
        heads = {d: self._db.execute("SELECT max(seq) FROM events WHERE device = ?", (d,)).fetchone()[0]
                 for d in devices}
        return {d: int(n) for d, n in heads.items() if n is not None}

    def page(self, device: str, after: int, limit: int = PAGE) -> list[Event]:
        """A device's events after `after`, in sequence order, at most `limit`."""
        rows = self._db.execute("SELECT * FROM events WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?",
                                (device, after, limit))
        return [Event(r[0], r[1], r[2], Kind(r[3]), *r[4:]) for r in rows]

    def certificate(self, device: str) -> bytes | None:
        """The PEM certificate of a device whose events we hold, to send along with them."""
        row = self._db.execute("SELECT cert FROM devices WHERE device = ?", (device,)).fetchone()
        return bytes(row[0]) if row else None

    def store(self, device: str, cert_pem: bytes, events: Sequence[Event]) -> Stored | PageRefused:
        """Verify and keep a page of another kiosk's events; a page we already hold is a harmless no-op."""
        if device == self.device_id:
            return PageRefused("a peer sent this kiosk's own events")
        key = self._key(device, cert_pem)
        if isinstance(key, PageRefused):
            return key
        with self._ledger.transaction():
            head = self._db.execute("SELECT seq, hash, hlc FROM events WHERE device = ? ORDER BY seq DESC LIMIT 1",
                                    (device,)).fetchone()
            seq, prev, hlc = (head[0], head[1], head[2]) if head else (0, genesis(self._election, device), -1)
            fresh = [e for e in events if e.seq > seq]
            if not fresh:
                return Stored(0, 0)
            problem = _chain_problem(fresh, device, seq, prev, hlc)
            if problem is None:
                try:
                    key.verify(fresh[-1].sig, fresh[-1].hash)
                except InvalidSignature:
                    problem = f"entry {fresh[-1].seq} of {device} has a bad signature"
            if problem is not None:
                return PageRefused(problem)
            self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
                (e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref, e.reason, e.wall, e.prev, e.hash, e.sig)
                for e in fresh])
            found = sum(self._note_duplicate(v) for v in self._voters_seen_before(fresh))
        self._ledger.observe(fresh[-1].hlc)
        return Stored(len(fresh), found)

    def duplicates(self, include_acknowledged: bool = False) -> list[Duplicate]:
        """Double check-ins this kiosk knows of, oldest first; by default only those staff have not acknowledged."""
        rows = self._db.execute("SELECT voter, check_ins, found, acknowledged FROM duplicates ORDER BY found")
        return [Duplicate(bytes(v), tuple(c.split(",")), f, a) for v, c, f, a in rows if include_acknowledged or not a]

    def acknowledge(self, duplicate: Duplicate, account: str) -> Recorded:
        """Staff saw the double check-in: a signed ledger event (it syncs like any other) and the alert clears."""
        refs = ",".join(duplicate.check_ins)
        with self._ledger.transaction():
            event = self._ledger.append(Kind.DUPLICATE_SEEN, duplicate.voter, refs, f"acknowledged by {account}")
            self._db.execute("UPDATE duplicates SET acknowledged = ? WHERE voter = ? AND check_ins = ?",
                             (event.wall, duplicate.voter, refs))
        return Recorded(event.seq, event.wall)

    def _voters_seen_before(self, fresh: Sequence[Event]) -> list[bytes]:
        """Voters of the new check-ins that have more than one check-in now (one query for the page)."""
        voters = list({e.voter for e in fresh if e.kind is Kind.CHECK_IN})
        if not voters:
            return []
        marks = ",".join("?" * len(voters))
        return [bytes(v) for (v,) in self._db.execute(
            f"SELECT voter FROM events WHERE kind = ? AND voter IN ({marks}) GROUP BY voter HAVING count(*) > 1",
            (Kind.CHECK_IN.value, *voters))]

    def _note_duplicate(self, voter: bytes) -> int:
        live = self._ledger.live_check_ins(voter)
        if len(live) < 2:
            return 0
        refs = ",".join(f"{c.device}:{c.seq}" for c in live)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        return self._db.execute("INSERT OR IGNORE INTO duplicates (voter, check_ins, found) VALUES (?, ?, ?)",
                                (voter, refs, now)).rowcount

    def _key(self, device: str, cert_pem: bytes) -> ed25519.Ed25519PublicKey | PageRefused:
        """The device's public key from a certificate of this election's authority for a kiosk of our branch."""
        if device in self._keys:
            return self._keys[device]
        stored = self.certificate(device)
        try:
            cert = certs.load_certificate(stored or cert_pem)
            claims = certs.verify_device(cert, self._authority)
        except certs.CertificateRefused as exc:
            return PageRefused(f"certificate of {device}: {exc}")
        if claims.device_id != device or claims.role is not certs.Role.KIOSK or \
                self._branches.isdisjoint(claims.branches):
            return PageRefused(f"certificate of {device} is not a kiosk of this branch")
        key = cert.public_key()
        assert isinstance(key, ed25519.Ed25519PublicKey)  # verify_device checked it
        if stored is None:
            with self._ledger.transaction():
                self._db.execute("INSERT OR IGNORE INTO devices VALUES (?, ?)", (device, cert_pem))
        self._keys[device] = key
        return key


def count_unacknowledged_duplicates(ledger: Ledger) -> int:
    """How many double check-ins staff on this kiosk have not acknowledged (0 before any sync)."""
    try:
        return int(ledger.connection.execute("SELECT count(*) FROM duplicates WHERE acknowledged = ''").fetchone()[0])
    except sqlite3.OperationalError:  # no table yet: this kiosk never synced
        return 0


def _chain_problem(events: Sequence[Event], device: str, seq: int, prev: bytes, hlc: int) -> str | None:
    """The first reason this run of events does not continue the device's chain, or None."""
    for e in events:
        if e.device != device:
            return "a page mixes devices"
        if e.seq != seq + 1:
            return f"gap in {device}: expected entry {seq + 1}, got {e.seq}"
        if e.prev != prev:
            return f"entry {e.seq} of {device} does not follow the one before (a fork)"
        if event_hash(e.prev, e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref, e.reason, e.wall) != e.hash:
            return f"entry {e.seq} of {device} was altered"
        if e.hlc <= hlc:
            return f"entry {e.seq} of {device} goes back in time"
        seq, prev, hlc = e.seq, e.hash, e.hlc
    return None
