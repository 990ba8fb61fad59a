"""Other kiosks' events in this kiosk's ledger file: what we hold, what we send, what we accept.

Each kiosk appends only its own events; the events of the other kiosks of the
branch arrive by branch sync (kiosk.net.sync) and are stored beside them in
the same table, never rewritten. A page is judged on its own first: one
device, consecutive entries, every hash recomputes and links to the one
before, the hybrid clock only grows, and the device's signature on the page's
newest entry verifies against the key the election's roster gives for a kiosk
of our branch. That one signature covers every entry of the page through the
hash chain, so it is the only signature stored with them: a kiosk stores
exactly what it verified (kiosk.store.ledger.judge_chain is the same rule at
collection). Then against what we hold: a page that contradicts an entry we
hold is an equivocation, kept with both signed runs as proof; stamps too far
ahead of our best time or outside the election's window are refused, and
never move our own clock; a revoked device's entries from its revocation time
are ignored and reported.

A voter who turns out live-checked-in on two kiosks is a double check-in: it
is kept until staff acknowledge it, and the acknowledgement is a signed event.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core import hlc as hybrid
from kiosk.core.branch import Duplicate
from kiosk.core.outcome import Recorded
from kiosk.core.text_limits import MAX_EVENT_TEXT
from kiosk.store.ledger import Event, Kind, Ledger, event_hash, event_row, genesis
from kiosk.trust import certs
from kiosk.trust.roster import Roster, RosterSource

PAGE = 100   # events per page: a page of the longest events stays well under the 64 KiB frame
MAX_AHEAD_MS = 5 * 60 * 1000   # how far a peer's stamp may run ahead of this kiosk's best time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, cert BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS duplicates (
    voter BLOB NOT NULL, check_ins TEXT NOT NULL, found TEXT NOT NULL, acknowledged TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (voter, check_ins)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS anomalies (
    kind TEXT NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, detail TEXT NOT NULL,
    evidence TEXT NOT NULL, found TEXT NOT NULL, PRIMARY KEY (kind, device, seq)
) WITHOUT ROWID;
"""


class AnomalyKind:
    """What a kept anomaly is (text values, stored and exported)."""

    EQUIVOCATION = "equivocation"       # a device signed two different entries for one sequence number
    REVOKED = "revoked"                 # a revoked device's entries from its revocation time, ignored
    FOREIGN_UNDO = "foreign_undo"       # an undo that counts for nothing (kiosk.core.undo)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something a device did that the rules refuse to count, kept as evidence (no personal data)."""

    kind: str
    device: str
    seq: int
    detail: str
    found: str


@dataclass(frozen=True, slots=True)
class Stored:
    """A page accepted: how many events were new, and the voters they made double-checked-in."""

    new: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class PageRefused:
    """A page not stored, and why (safe to log: no voter data)."""

    reason: str


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Replica:
    """The branch's events as this kiosk holds them; shares the ledger's connection and its transactions."""

    def __init__(self, ledger: Ledger, authority: x509.Certificate, own_cert_pem: bytes,
                 branches: Sequence[str], roster: Roster | RosterSource | None = None,
                 now_ms: Callable[[], int] = _wall_ms) -> None:
        """With a roster, a device's key comes from it (and only enrolled kiosks are stored); else from its certificate."""
        self._ledger = ledger
        self._db: sqlite3.Connection = ledger.connection
        self._authority = authority
        self._branches = frozenset(branches)
        self._election = certs.authority_election(authority)["election"]
        self._roster = roster
        self._now_ms = now_ms
        self._window = (int(authority.not_valid_before_utc.timestamp() * 1000),
                        int(authority.not_valid_after_utc.timestamp() * 1000))
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

    def use_roster(self, roster: Roster | RosterSource) -> None:
        """A newer roster or revocation list arrived: judge the next pages by it."""
        self._roster = roster
        self._keys.clear()

    def heads(self) -> dict[str, int]:
        """The highest sequence number held for every device (ours included)."""
        # One index seek per known device: a GROUP BY would scan every event, and senders ask often.
        devices = [d for (d,) in self._db.execute("SELECT device FROM devices")]
        heads = {d: self._db.execute("SELECT max(seq) FROM events WHERE device = ?", (d,)).fetchone()[0]
                 for d in devices}
        return {d: int(n) for d, n in heads.items() if n is not None}

    def page(self, device: str, after: int, limit: int = PAGE) -> list[Event]:
        """A device's events after `after`, in sequence order, ending at the last signed one within `limit`.

        A page must end on an entry whose signature we hold and verified, so the receiver can verify it too.
        """
        rows = self._db.execute("SELECT * FROM events WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?",
                                (device, after, limit))
        events = [Event(r[0], r[1], r[2], Kind(r[3]), *r[4:]) for r in rows]
        while events and not events[-1].sig:
            events.pop()
        return events

    def certificate(self, device: str) -> bytes | None:
        """The PEM certificate of a device whose events we hold, to send along with them."""
        row = self._db.execute("SELECT cert FROM devices WHERE device = ?", (device,)).fetchone()
        return bytes(row[0]) if row else None

    def store(self, device: str, cert_pem: bytes, events: Sequence[Event]) -> Stored | PageRefused:
        """Verify and keep a page of another kiosk's events; a page we already hold is a harmless no-op."""
        if device == self.device_id:
            return PageRefused("a peer sent this kiosk's own events")
        if not events:
            return Stored(0, 0)
        key = self._key(device, cert_pem)
        if isinstance(key, PageRefused):
            return key
        problem = _page_problem(events, device, self._election)
        if problem is None and not _signed_by(key, events[-1]):
            problem = f"entry {events[-1].seq} of {device} has a bad signature"
        if problem is not None:
            return PageRefused(problem)
        # From here the page is the device's own signed statement.
        with self._ledger.transaction():
            conflict = self._contradiction(device, events)
            if conflict is not None:
                return conflict
            head = self._db.execute("SELECT seq, hash, hlc FROM events WHERE device = ? ORDER BY seq DESC LIMIT 1",
                                    (device,)).fetchone()
            seq, prev, last_hlc = (head[0], head[1], head[2]) if head else (0, genesis(self._election, device), -1)
            fresh = [e for e in events if e.seq > seq]
            if not fresh:
                return Stored(0, 0)
            if fresh[0].seq != seq + 1:
                return PageRefused(f"gap in {device}: expected entry {seq + 1}, got {fresh[0].seq}")
            if fresh[0].hlc <= last_hlc:
                return PageRefused(f"entry {fresh[0].seq} of {device} goes back in time")
            clock = self._clock_problem(device, fresh)
            if clock is not None:
                return PageRefused(clock)
            keep = self._before_revocation(device, key, fresh)
            if not keep:
                return Stored(0, 0)
            self._db.executemany(
                "INSERT INTO events (device, seq, hlc, kind, voter, ref, reason, wall, prev, hash, sig, account) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
                    (e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref, e.reason, e.wall, e.prev, e.hash,
                     e.sig if e is keep[-1] else b"", e.account)
                    for e in keep])
            found = sum(self._note_duplicate(v) for v in self._voters_seen_before(keep))
        self._ledger.observe(keep[-1].hlc)
        return Stored(len(keep), found)

    def duplicates(self, include_acknowledged: bool = False) -> list[Duplicate]:
        """Double check-ins this kiosk knows of, oldest first; by default only those staff have not acknowledged."""
        rows = self._db.execute("SELECT voter, check_ins, found, acknowledged FROM duplicates ORDER BY found")
        return [Duplicate(bytes(v), tuple(c.split(",")), f, a) for v, c, f, a in rows if include_acknowledged or not a]

    def acknowledge(self, duplicate: Duplicate, account: str) -> Recorded:
        """Staff saw the double check-in: a signed ledger event (it syncs like any other) and the alert clears."""
        refs = ",".join(duplicate.check_ins)
        with self._ledger.transaction():
            event = self._ledger.append(Kind.DUPLICATE_SEEN, duplicate.voter, _within_wire(duplicate.check_ins),
                                        f"acknowledged by {account}", account)
            self._db.execute("UPDATE duplicates SET acknowledged = ? WHERE voter = ? AND check_ins = ?",
                             (event.wall, duplicate.voter, refs))
        return Recorded(event.seq, event.wall)

    def anomalies(self) -> list[Anomaly]:
        """Everything the rules refused to count, oldest first: kept anomalies and undos that count for nothing."""
        return list_anomalies(self._ledger)

    # -- inside ----------------------------------------------------------------------------
    def _contradiction(self, device: str, events: Sequence[Event]) -> PageRefused | None:
        """Compare the page with every entry of `device` we hold at the same sequence numbers (and the one before)."""
        first = events[0]
        lo, hi = first.seq - 1, events[-1].seq
        held = {q: bytes(h) for q, h in self._db.execute(
            "SELECT seq, hash FROM events WHERE device = ? AND seq BETWEEN ? AND ?", (device, lo, hi))}
        forked_at: int | None = None
        if first.seq - 1 in held and held[first.seq - 1] != first.prev:
            forked_at = first.seq - 1
        else:
            forked_at = next((e.seq for e in events if e.seq in held and held[e.seq] != e.hash), None)
        if forked_at is None:
            return None
        self._keep_equivocation(device, forked_at, events)
        return PageRefused(f"{device} signed two different entries {forked_at} (equivocation; proof kept)")

    def _keep_equivocation(self, device: str, forked_at: int, theirs: Sequence[Event]) -> None:
        """Both signed runs: ours from the fork to the next entry whose signature we hold, and the page."""
        ours: list[Event] = []
        for row in self._db.execute("SELECT * FROM events WHERE device = ? AND seq >= ? ORDER BY seq LIMIT ?",
                                    (device, forked_at, 2 * PAGE)):
            ours.append(Event(row[0], row[1], row[2], Kind(row[3]), *row[4:]))
            if ours[-1].sig:
                break
        evidence = json.dumps({"ours": [event_row(e) for e in ours], "theirs": [event_row(e) for e in theirs]})
        self._db.execute("INSERT OR IGNORE INTO anomalies VALUES (?, ?, ?, ?, ?, ?)",
                         (AnomalyKind.EQUIVOCATION, device, forked_at,
                          f"two signed versions of entry {forked_at}", evidence, _now_iso()))

    def _clock_problem(self, device: str, fresh: Sequence[Event]) -> str | None:
        """A stamp beyond our best time plus the bound, or outside the election's window, refuses the page."""
        newest = hybrid.unpack(fresh[-1].hlc)[0]   # stamps grow along a page: the last is the largest
        oldest = hybrid.unpack(fresh[0].hlc)[0]
        ahead = newest - self._now_ms()
        if ahead > MAX_AHEAD_MS:
            return f"clock: entry {fresh[-1].seq} of {device} is stamped {ahead // 1000} s ahead of this kiosk"
        if oldest < self._window[0] or newest > self._window[1]:
            return f"clock: entries of {device} are stamped outside the election's window"
        return None

    def _before_revocation(self, device: str, key: ed25519.Ed25519PublicKey,
                           fresh: list[Event]) -> list[Event]:
        """The entries made before the device's revocation time, ending on one whose signature verifies."""
        revoked = self._roster.revoked_from_ms(device) if self._roster is not None else None
        if revoked is None:
            return fresh
        cut = next((i for i, e in enumerate(fresh) if hybrid.unpack(e.hlc)[0] >= revoked), len(fresh))
        if cut == len(fresh):
            return fresh
        keep = fresh[:cut]
        # The page's signature is on an entry past the cut: the kept run must end on a signature of its own.
        while keep and not (keep[-1].sig and _signed_by(key, keep[-1])):
            keep.pop()
        ignored = fresh[len(keep):]
        self._db.execute("INSERT OR IGNORE INTO anomalies VALUES (?, ?, ?, ?, ?, ?)",
                         (AnomalyKind.REVOKED, device, fresh[cut].seq,
                          "entries of a revoked device from its revocation time, ignored",
                          json.dumps({"first_ignored": ignored[0].seq if ignored else 0}), _now_iso()))
        return keep

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
        return self._db.execute("INSERT OR IGNORE INTO duplicates (voter, check_ins, found) VALUES (?, ?, ?)",
                                (voter, refs, _now_iso())).rowcount

    def _key(self, device: str, cert_pem: bytes) -> ed25519.Ed25519PublicKey | PageRefused:
        """The device's public key: from the roster when we have one, else from an authority certificate."""
        if device in self._keys:
            return self._keys[device]
        if self._roster is not None:
            member = self._roster.member(device)
            if member is None:
                return PageRefused(f"{device} is not in the election's roster")
            role, branches, key, pem = member.role, member.branches, member.public_key, member.cert_pem
        else:
            stored = self.certificate(device)
            try:
                cert = certs.load_certificate(stored or cert_pem)
                claims = certs.verify_device(cert, self._authority)
            except certs.CertificateRefused as exc:
                return PageRefused(f"certificate of {device}: {exc}")
            if claims.device_id != device:
                return PageRefused(f"certificate of {device} is another device's")
            public = cert.public_key()
            assert isinstance(public, ed25519.Ed25519PublicKey)  # verify_device checked it
            role, branches, key, pem = claims.role, claims.branches, public, stored or cert_pem
        if role is not certs.Role.KIOSK or self._branches.isdisjoint(branches):
            return PageRefused(f"certificate of {device} is not a kiosk of this branch")
        if self.certificate(device) is None:
            with self._ledger.transaction():
                self._db.execute("INSERT OR IGNORE INTO devices VALUES (?, ?)", (device, pem))
        self._keys[device] = key
        return key


def list_anomalies(ledger: Ledger) -> list[Anomaly]:
    """Anomalies this kiosk holds (none before any sync), with undos that count for nothing, oldest first."""
    kept: list[Anomaly] = []
    try:
        kept = [Anomaly(k, d, int(q), detail, found) for k, d, q, detail, found in ledger.connection.execute(
            "SELECT kind, device, seq, detail, found FROM anomalies ORDER BY found")]
    except sqlite3.OperationalError:  # no table yet: this kiosk never synced
        pass
    undos = [Anomaly(AnomalyKind.FOREIGN_UNDO, u.device, u.seq, f"{why} ({u.target})", "")
             for u, why in ledger.undo_ruling().anomalies]
    return undos + kept


def count_unacknowledged_duplicates(ledger: Ledger) -> int:
    """How many double check-ins staff on this kiosk have not acknowledged (0 before any sync)."""
    try:
        return int(ledger.connection.execute("SELECT count(*) FROM duplicates WHERE acknowledged = ''").fetchone()[0])
    except sqlite3.OperationalError:  # no table yet: this kiosk never synced
        return 0


def _signed_by(key: ed25519.Ed25519PublicKey, event: Event) -> bool:
    try:
        key.verify(event.sig, event.hash)
    except InvalidSignature:
        return False
    return True


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _page_problem(events: Sequence[Event], device: str, election: str) -> str | None:
    """The first reason this run of events is not one consecutive, self-consistent run of `device`'s chain."""
    prev: bytes | None = genesis(election, device) if events[0].seq == 1 else None
    seq, last_hlc = events[0].seq - 1, -1
    for e in events:
        if e.device != device:
            return "a page mixes devices"
        if e.seq != seq + 1:
            return f"a page of {device} is not consecutive at entry {e.seq}"
        if prev is not None and e.prev != prev:
            return f"entry {e.seq} of {device} does not follow the one before"
        if event_hash(e.prev, e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref, e.reason, e.wall,
                      e.account) != e.hash:
            return f"entry {e.seq} of {device} was altered"
        if e.hlc <= last_hlc:
            return f"entry {e.seq} of {device} goes back in time"
        seq, prev, last_hlc = e.seq, e.hash, e.hlc
    return None


def _within_wire(check_ins: Sequence[str]) -> str:
    """The acknowledged check-ins as an event ref the peers accept: as many as fit, then how many more.

    Nothing reads the ref back (the voter's hash is what clears the alert), but a ref over the
    wire's limit would make every peer refuse this kiosk's pages from then on.
    """
    whole = ",".join(check_ins)
    if len(whole) <= MAX_EVENT_TEXT:
        return whole
    shown = 0
    while len(",".join([*check_ins[:shown + 1], f"+{len(check_ins) - shown - 1} more"])) <= MAX_EVENT_TEXT:
        shown += 1
    return ",".join([*check_ins[:shown], f"+{len(check_ins) - shown} more"])
