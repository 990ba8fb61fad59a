"""The check-in ledger: append-only, hash-chained, signed, durable before acknowledged.

SQLite in WAL mode with synchronous=FULL: `check_in` returns only after the
commit is on disk. The national code never enters the ledger; the registry's
keyed hash stands in for it. Every event names its device and sequence number
and carries a hybrid logical clock, so other kiosks' events fit the same table.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import assert_never

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.hlc import HybridClock
from kiosk.core.outcome import AlreadyCheckedIn, Recorded
from kiosk.core.text_limits import MAX_EVENT_TEXT, TextRefused, check_text
from kiosk.core.undo import UndoRuling, UndoSeen, check_undo_reason, rule_undos, target_device
from kiosk.trust.canonical import canonical_json
from kiosk.trust.decisions import undo_authorized

# The public key of a console that may authorize undos for this kiosk's branch (from the roster), or None.
RepKeys = Callable[[str], ed25519.Ed25519PublicKey | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    device TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    kind TEXT NOT NULL, voter BLOB NOT NULL, ref TEXT NOT NULL, reason TEXT NOT NULL,
    wall TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL, sig BLOB NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_voter ON events (voter);
CREATE INDEX IF NOT EXISTS events_by_hlc ON events (hlc);
-- Undos are rare; ruling on all of them (kiosk.core.undo) must not scan every check-in.
CREATE INDEX IF NOT EXISTS events_undos ON events (device, seq) WHERE kind = 'undo';
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class Kind(Enum):
    """What an event records."""

    CHECK_IN = "check_in"
    UNDO = "undo"
    DECISION = "decision"   # the representative's signed decision on one of this kiosk's cases
    DUPLICATE_SEEN = "duplicate_seen"   # staff acknowledged a voter checked in on two kiosks during a partition


def connect_read_only(path: Path) -> sqlite3.Connection:
    """The ledger file opened for reading only, even on a full or read-only disk.

    A read of a WAL database first creates and sizes its -shm file, which a full
    or read-only disk refuses; when it does and the -wal holds nothing, the main
    file is the whole ledger and is read as immutable. A -wal with entries in it
    is never skipped: the error stands.
    """
    uri = f"file:{urllib.parse.quote(str(path))}"
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)


def _private_file(path: Path) -> None:
    """Create the ledger owner-only before SQLite does (its -wal and -shm take the same mode).

    Best effort: on a read-only disk or another user's file SQLite opens it as it is, and says what fails.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)   # a ledger made before this version
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_only(path: Path) -> sqlite3.Connection:
    """The ledger for looking only; a missing or never-written one is an empty ledger in memory."""
    if path.exists():
        db = connect_read_only(path)
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return db
        db.close()
    db = sqlite3.connect(":memory:")
    db.executescript(_SCHEMA)
    return db


def ledger_identity(path: Path) -> tuple[dict[str, str], int] | None:
    """(meta, number of events) of a ledger file without opening it for writing; None if absent or unreadable."""
    if not path.exists():
        return None
    try:
        db = connect_read_only(path)
    except sqlite3.DatabaseError:
        return None
    try:
        meta = dict(db.execute("SELECT name, value FROM meta"))
        count = int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    return meta, count


class LedgerCorrupt(Exception):
    """The ledger's chain or signatures do not hold: something was removed or changed."""


@dataclass(frozen=True, slots=True)
class Event:
    """One ledger entry as stored."""

    device: str
    seq: int
    hlc: int
    kind: Kind
    voter: bytes
    ref: str
    reason: str
    wall: str
    prev: bytes
    hash: bytes
    sig: bytes
    account: str = ""   # the signed-in staff account that recorded it (an id, never a name); "" for none


@dataclass(frozen=True, slots=True)
class UndoRefused:
    """An undo that names no live check-in."""

    reason: str


@dataclass(frozen=True, slots=True)
class Supersede:
    """Undo exactly `target` ("device:seq") before a check-in, with the representative's authorization as reason."""

    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """What `ledger verify` reports."""

    events: int
    check_ins: int
    undos: int
    live_check_ins: int
    head: str
    decisions: int = 0


def event_row(e: Event) -> list[object]:
    """An event as a JSON array (hex for bytes): export bundles and kept evidence."""
    return [e.device, e.seq, e.hlc, e.kind.value, e.voter.hex(), e.ref, e.reason, e.wall, e.prev.hex(),
            e.hash.hex(), e.sig.hex(), e.account]


ACCOUNT_CHARS = 32


def check_account(account: str) -> str:
    """An account id a ledger entry may carry (what branch sync and collection accept); ValueError otherwise."""
    if len(account) > ACCOUNT_CHARS or not account.isprintable() or account != account.strip():
        raise ValueError("an account id is at most 32 printable characters")
    return account


def genesis(election_id: str, device_id: str) -> bytes:
    """The `prev` of a device's first event, binding its chain to the election and device."""
    return hashlib.sha256(f"kiosk ledger v1|{election_id}|{device_id}".encode()).digest()


def event_hash(prev: bytes, device: str, seq: int, hlc: int, kind: str, voter: bytes,
               ref: str, reason: str, wall: str, account: str = "") -> bytes:
    """The chain hash of an event: its fields and the hash before it.

    The account joins the hashed fields only when there is one, so every entry written before accounts were
    recorded keeps its hash (and its signature) as it was.
    """
    fields: list[object] = [device, seq, hlc, kind, voter.hex(), ref, reason, wall]
    body = canonical_json(fields + [account] if account else fields)
    return hashlib.sha256(prev + body).digest()


def _wall_millis() -> int:
    return time.time_ns() // 1_000_000


class Ledger:
    """One device's ledger file, opened for appending its own events (or, `read_only`, for looking only).

    A read-only ledger writes nothing, not even the file: a missing one reads as empty.
    """

    def __init__(self, path: Path, election_id: str, device_id: str,
                 signing_key: ed25519.Ed25519PrivateKey, index_check: str, rep_keys: RepKeys | None = None,
                 read_only: bool = False) -> None:
        self.device_id = device_id
        self._election = election_id
        self._key = signing_key
        self._rep_keys: RepKeys = rep_keys or (lambda _rep: None)
        self._authorized: dict[tuple[str, int], bool] = {}
        if read_only:
            self._db = _read_only(path)
        else:
            _private_file(path)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            # A ledger made before entries named their account gains the column (its old entries have none).
            if "account" not in {row[1] for row in self._db.execute("PRAGMA table_info(events)")}:
                self._db.execute("ALTER TABLE events ADD COLUMN account TEXT NOT NULL DEFAULT ''")
        # The voter keys in here are only meaningful under one election's index key.
        for name, value, refusal in (("election", election_id, "this ledger belongs to another election"),
                                     ("index_check", index_check, "this ledger was kept under another registry index")):
            if not read_only:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, value))
            kept = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            if kept is not None and kept[0] != value:
                self._db.close()
                raise LedgerCorrupt(refusal)
        last = self._db.execute("SELECT max(hlc) FROM events").fetchone()[0] or 0
        self._clock = HybridClock(_wall_millis, last)

    def close(self) -> None:
        """Close the database (everything acknowledged is already durable)."""
        self._db.close()

    def live_check_in(self, voter: bytes) -> AlreadyCheckedIn | None:
        """The voter's earliest live check-in on any device (in hybrid-clock order), or None."""
        live = self.live_check_ins(voter)
        return live[0] if live else None

    def live_check_ins(self, voter: bytes) -> list[AlreadyCheckedIn]:
        """Every live check-in of a voter, earliest first: more than one means a double check-in."""
        rows = self._db.execute(
            "SELECT device, seq, kind, ref, reason, wall FROM events WHERE voter = ? AND kind IN (?, ?) ORDER BY hlc",
            (voter, Kind.CHECK_IN.value, Kind.UNDO.value)).fetchall()
        check_ins = {f"{d}:{q}": voter for d, q, kind, _, _, _ in rows if kind == Kind.CHECK_IN.value}
        undos = [self._undo_seen(d, q, voter, ref, reason) for d, q, kind, ref, reason, _ in rows
                 if kind == Kind.UNDO.value]
        undone = rule_undos(undos, check_ins).undone
        return [AlreadyCheckedIn(device, seq, wall) for device, seq, kind, _, _, wall in rows
                if kind == Kind.CHECK_IN.value and f"{device}:{seq}" not in undone]

    def undo_ruling(self) -> UndoRuling:
        """Every undo held (this kiosk's and its peers'), ruled on: what is undone and which undos are anomalies."""
        undos = [self._undo_seen(d, q, bytes(v), ref, reason) for d, q, v, ref, reason in self._db.execute(
            "SELECT device, seq, voter, ref, reason FROM events WHERE kind = ?", (Kind.UNDO.value,))]
        targets = {u.target for u in undos}
        check_ins: dict[str, bytes] = {}
        for target in targets:
            device, _, seq = target.rpartition(":")
            if seq.isdigit():
                row = self._db.execute("SELECT voter FROM events WHERE device = ? AND seq = ? AND kind = ?",
                                       (device, int(seq), Kind.CHECK_IN.value)).fetchone()
                if row is not None:
                    check_ins[target] = bytes(row[0])
        return rule_undos(undos, check_ins)

    def _undo_seen(self, device: str, seq: int, voter: bytes, target: str, reason: str) -> UndoSeen:
        """An undo with its authorization checked (once per event: the answer cannot change)."""
        authorized = self._authorized.get((device, seq))
        if authorized is None:
            authorized = device != target_device(target) and undo_authorized(
                self._election, device, target, reason, self._rep_keys)
            self._authorized[(device, seq)] = authorized
        return UndoSeen(device, seq, voter, target, authorized)

    def observe(self, hlc: int) -> None:
        """Fold in a stamp from another kiosk, so this kiosk's next event orders after it."""
        self._clock.observe(hlc)

    def check_in(self, voter: bytes, ref: str = "", supersede: Supersede | None = None,
                 note: str = "", allow_double: bool = False,
                 then: Callable[[Event], None] | None = None, account: str = "") -> Recorded | AlreadyCheckedIn:
        """Record a check-in durably, unless the voter already has a live one.

        With `supersede`, the live check-in it names is undone first in the same
        transaction: the representative ruled that the earlier one was not this
        person's. Any other live check-in still stands. `note` is kept as the
        check-in's reason (the branch head's word when an approval overrides the
        registry); with `allow_double` (the branch head confirmed, with a note) a
        live check-in does not stop this one, and the two show as a double check-in.
        `then` writes what must commit with the check-in (the case's "approval used"
        mark) in the same transaction: if it raises, neither is written. `account` is the signed-in staff
        account's id, kept on the entry (and the undo a supersede writes).
        """
        try:
            with self._immediate():
                existing = self.live_check_in(voter)
                if allow_double and note.strip():
                    existing = None
                if existing is not None and (supersede is None or
                                             supersede.target != f"{existing.device}:{existing.seq}"):
                    return existing
                if existing is not None and supersede is not None:
                    self._append(Kind.UNDO, voter, supersede.target, supersede.reason, account)
                    still = self.live_check_in(voter)
                    if still is not None:   # the authorization does not verify here: write neither
                        raise _Unchanged(still)
                event = self._append(Kind.CHECK_IN, voter, ref, note, account)
                if then is not None:
                    then(event)
        except _Unchanged as unchanged:
            return unchanged.existing
        return Recorded(event.seq, event.wall)

    @property
    def connection(self) -> sqlite3.Connection:
        """The database connection, for the case outbox that shares this file and its transactions."""
        return self._db

    def transaction(self) -> _Transaction:
        """BEGIN IMMEDIATE … COMMIT, for a ledger entry and an outbox change that must commit together."""
        return _Transaction(self._db)

    def append(self, kind: Kind, voter: bytes, ref: str, reason: str, account: str = "") -> Event:
        """Append one signed, chained event; call inside `transaction()`."""
        if not self._db.in_transaction:
            raise RuntimeError("ledger append outside a transaction")
        return self._append(kind, voter, ref, reason, account)

    def undo(self, device: str, seq: int, reason: str, account: str = "") -> Recorded | UndoRefused:
        """Cancel a live check-in with a reason, as an event of its own (nothing is deleted).

        A reason branch sync could not carry (too long, a line break) is refused before anything is written.
        """
        if not reason.strip():
            return UndoRefused("an undo needs a reason")
        try:
            reason = check_undo_reason(reason)
        except TextRefused as exc:
            return UndoRefused(str(exc))
        if device != self.device_id:
            return UndoRefused("only the kiosk that recorded a check-in can undo it")
        with self._immediate():
            row = self._db.execute(
                "SELECT voter, kind FROM events WHERE device = ? AND seq = ?", (device, seq)).fetchone()
            if row is None or row[1] != Kind.CHECK_IN.value:
                return UndoRefused("no such check-in")
            if not any((c.device, c.seq) == (device, seq) for c in self.live_check_ins(row[0])):
                return UndoRefused("that check-in is already undone")
            event = self._append(Kind.UNDO, row[0], f"{device}:{seq}", reason, account)
        return Recorded(event.seq, event.wall)

    def _immediate(self) -> _Transaction:
        return _Transaction(self._db)

    def _append(self, kind: Kind, voter: bytes, ref: str, reason: str, account: str = "") -> Event:
        # Never sign what branch sync would refuse: the peers would refuse every later page of this ledger.
        check_text(ref, "a ledger entry's reference", MAX_EVENT_TEXT)
        check_text(reason, "a ledger entry's reason", MAX_EVENT_TEXT)
        check_account(account)
        head = self._db.execute(
            "SELECT seq, hash, hlc FROM events WHERE device = ? ORDER BY seq DESC LIMIT 1", (self.device_id,)
        ).fetchone()
        seq, prev = (head[0] + 1, head[1]) if head else (1, genesis(self._election, self.device_id))
        # Another connection may have stored newer events since we opened: this device's own (the
        # courier's) or other kiosks' (branch sync). The next stamp must order after all of them.
        newest = self._db.execute("SELECT max(hlc) FROM events").fetchone()[0]
        if newest is not None:
            self._clock.observe(newest)
        hlc = self._clock.tick()
        wall = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        digest = event_hash(prev, self.device_id, seq, hlc, kind.value, voter, ref, reason, wall, account)
        event = Event(self.device_id, seq, hlc, kind, voter, ref, reason, wall, prev, digest,
                      self._key.sign(digest), account)
        self._db.execute(
            "INSERT INTO events (device, seq, hlc, kind, voter, ref, reason, wall, prev, hash, sig, account) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (event.device, event.seq, event.hlc, kind.value, voter, ref, reason, wall, prev, digest, event.sig,
             account),
        )
        return event

    def live_check_ins_since(self, wall_utc: str) -> int:
        """This device's check-ins recorded at or after `wall_utc` (ISO, UTC) and not undone."""
        made = {f"{d}:{q}" for d, q in self._db.execute(
            "SELECT device, seq FROM events WHERE device = ? AND kind = ? AND wall >= ?",
            (self.device_id, Kind.CHECK_IN.value, wall_utc))}
        undone = {ref for (ref,) in self._db.execute(
            "SELECT ref FROM events WHERE device = ? AND kind = ?", (self.device_id, Kind.UNDO.value))}
        return len(made - undone)

    def events(self, device: str) -> Iterator[Event]:
        """A device's events in sequence order."""
        for row in self._db.execute("SELECT * FROM events WHERE device = ? ORDER BY seq", (device,)):
            try:
                kind = Kind(row[3])
            except ValueError as exc:
                raise LedgerCorrupt(f"entry {row[1]} has an unknown kind") from exc
            yield Event(row[0], row[1], row[2], kind, *row[4:])


class _Unchanged(Exception):
    """Roll the transaction back and answer with the check-in that still stands."""

    def __init__(self, existing: AlreadyCheckedIn) -> None:
        super().__init__("unchanged")
        self.existing = existing


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT: the write lock first, so two processes cannot both check a voter in."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def verify_chain(events: Iterator[Event], election_id: str, device_id: str,
                 public_key: ed25519.Ed25519PublicKey) -> LedgerCounts:
    """Judge one device's chain from its first entry; LedgerCorrupt on the first fault.

    The rule branch sync stores by and collection checks by: consecutive from 1,
    every hash recomputes and links, the clock only grows, every signature held
    verifies, and the newest entry carries one. A device signs each of its own
    entries; a copy received by sync holds the signature of each page's newest
    entry only, which covers the entries before it through the chain.
    """
    prev = genesis(election_id, device_id)
    expected = 1
    check_ins = undos = decisions = 0
    undone: set[str] = set()
    last_hlc = -1
    signed = True
    for e in events:
        if e.seq != expected:
            raise LedgerCorrupt(f"gap in the ledger: expected entry {expected}, found {e.seq}")
        if e.prev != prev:
            raise LedgerCorrupt(f"entry {e.seq} does not follow entry {e.seq - 1}")
        digest = event_hash(e.prev, e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref, e.reason, e.wall,
                            e.account)
        if digest != e.hash:
            raise LedgerCorrupt(f"entry {e.seq} was altered")
        if e.sig:
            try:
                public_key.verify(e.sig, e.hash)
            except InvalidSignature as exc:
                raise LedgerCorrupt(f"entry {e.seq} has a bad signature") from exc
        signed = bool(e.sig)
        if e.hlc <= last_hlc:
            raise LedgerCorrupt(f"entry {e.seq} goes back in time")
        last_hlc = e.hlc
        match e.kind:
            case Kind.CHECK_IN:
                check_ins += 1
            case Kind.UNDO:
                undos += 1
                undone.add(e.ref)
            case Kind.DECISION:
                decisions += 1
            case Kind.DUPLICATE_SEEN:
                pass
            case _ as unreachable:
                assert_never(unreachable)
        prev, expected = e.hash, expected + 1
    if not signed:
        raise LedgerCorrupt(f"entry {expected - 1}, the newest, carries no signature")
    return LedgerCounts(expected - 1, check_ins, undos, check_ins - len(undone), prev.hex(), decisions)
