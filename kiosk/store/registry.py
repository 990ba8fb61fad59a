"""The registry snapshot: one SQLite table of encrypted records keyed by a keyed hash.

Nothing in the file is readable without the registry key: the index is a keyed
BLAKE2b of the national code, and each record is AES-GCM with its index as
associated data, so a record moved to another key or altered fails to open.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.core.jalali import JalaliDate
from kiosk.core.voter import CivilStatus, Gender, VoterRecord

FORMAT = "1"
INDEX_BYTES = 16
_SEP = "\x1f"
_GENDER = {"m": Gender.MALE, "f": Gender.FEMALE}
_STATUS = {"a": CivilStatus.ALIVE, "d": CivilStatus.DECEASED, "s": CivilStatus.SUSPENDED}
GENDER_CODE = {v: k for k, v in _GENDER.items()}
STATUS_CODE = {v: k for k, v in _STATUS.items()}
_SCHEMA = (
    "CREATE TABLE voters (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
)


class RegistryError(Exception):
    """The registry cannot be opened or a record does not decrypt: stop serving."""


REGISTRY_KEY_BYTES = 64


def new_registry_key(index_secret: bytes) -> bytes:
    """A registry key for one build: the election's index secret and a fresh record secret.

    The index secret stays the same for every build of one election, so the
    keyed hashes in ledgers (and on other kiosks) still match after a rebuild;
    the record secret is new, so the counter nonces of a new build never repeat
    under an old key.
    """
    if len(index_secret) != 32:
        raise RegistryError("index secret must be 32 bytes")
    return index_secret + os.urandom(32)


class RegistryKeys:
    """Keys derived from the registry key: the index key (per election) and the record key (per build)."""

    def __init__(self, index: bytes, record: bytes, check: str, index_check: str) -> None:
        self.record = record
        self.check = check
        self.index_check = index_check
        # Copying a keyed BLAKE2b state is cheaper than keying a new one for every code.
        self._index_state = hashlib.blake2b(key=index, digest_size=INDEX_BYTES)

    @classmethod
    def derive(cls, registry_key: bytes) -> RegistryKeys:
        """Derive the keys and their check values from the 64-byte registry key."""
        if len(registry_key) != REGISTRY_KEY_BYTES:
            raise RegistryError("registry key must be 64 bytes")
        index = HKDF(hashes.SHA256(), 64, salt=None, info=b"kiosk registry index v1").derive(registry_key[:32])
        record = HKDF(hashes.SHA256(), 64, salt=None, info=b"kiosk registry record v1").derive(registry_key[32:])
        return cls(index[:32], record[:32], (index[32:48] + record[32:48]).hex(), index[32:].hex())

    def index_of(self, code: str) -> bytes:
        """The keyed hash under which a canonical national code is stored."""
        state = self._index_state.copy()
        state.update(code.encode("ascii"))
        return state.digest()


def record_plaintext(first: str, last: str, father: str, born: str, gender: str, status: str) -> bytes:
    """The compact plaintext of a record: fields joined by the unit separator, born as YYYYMMDD."""
    return f"{first}\x1f{last}\x1f{father}\x1f{born}\x1f{gender}\x1f{status}".encode()


def encode_record(record: VoterRecord) -> bytes:
    """The plaintext of a VoterRecord (see record_plaintext)."""
    b = record.birth_date
    return record_plaintext(record.first_name, record.last_name, record.father_name,
                            f"{b.year:04d}{b.month:02d}{b.day:02d}",
                            GENDER_CODE[record.gender], STATUS_CODE[record.status])


def decode_record(plain: bytes) -> VoterRecord:
    """The inverse of encode_record."""
    first, last, father, born, gender, status = plain.decode().split(_SEP)
    day = JalaliDate(int(born[:4]), int(born[4:6]), int(born[6:8]))
    return VoterRecord(first, last, father, day, _GENDER[gender], _STATUS[status])


class RecordSealer:
    """Encrypts records for one registry; nonces are a counter, unique under a fresh key."""

    def __init__(self, keys: RegistryKeys, start: int = 0) -> None:
        self._aead = AESGCM(keys.record)
        self._counter = start

    def seal(self, index: bytes, plain: bytes) -> bytes:
        """Nonce followed by ciphertext, bound to its index."""
        self._counter += 1
        nonce = self._counter.to_bytes(12, "big")
        return nonce + self._aead.encrypt(nonce, plain, index)


class RegistryWriter:
    """Builds a registry file; insert rows sorted by index for speed."""

    def __init__(self, path: Path, keys: RegistryKeys, election_id: str) -> None:
        if path.exists():
            raise FileExistsError(path)
        self._path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "locking_mode=EXCLUSIVE",
                       "cache_size=-262144", "page_size=4096"):
            self._db.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._meta = {"format": FORMAT, "election": election_id, "key_check": keys.check,
                      "index_check": keys.index_check}

    @property
    def connection(self) -> sqlite3.Connection:
        """The open database, for bulk statements that stay inside SQLite (ATTACH + INSERT … SELECT)."""
        return self._db

    def add(self, rows: Iterable[tuple[bytes, bytes]]) -> None:
        """Insert (index, sealed record) pairs in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO voters (k, v) VALUES (?, ?)", rows)

    def remove(self, indexes: Iterable[bytes]) -> None:
        """Drop rows again (duplicates found after their first occurrence was written)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM voters WHERE k = ?", ((k,) for k in indexes))

    def close(self, voters: int) -> None:
        """Write the metadata and close; the caller makes the folder durable."""
        self._meta["voters"] = str(voters)
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(self._meta.items()))
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.close()
        # Built with synchronous=OFF for speed: make the finished file durable once, here.
        fd = os.open(self._path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_meta(path: Path) -> dict[str, str]:
    """The meta rows of a registry file (format, election, key checks), without the registry key."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return dict(db.execute("SELECT name, value FROM meta"))
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise RegistryError("registry file cannot be read") from exc


class Registry:
    """Read-only lookups in an installed registry. Opening reads only the header and meta rows."""

    def __init__(self, path: Path, registry_key: bytes) -> None:
        self._keys = RegistryKeys.derive(registry_key)
        try:
            # immutable=1: the file never changes after install, so SQLite may skip locking.
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            meta = dict(self._db.execute("SELECT name, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise RegistryError("registry file cannot be read") from exc
        if meta.get("format") != FORMAT:
            raise RegistryError("registry format is not supported")
        if meta.get("key_check") != self._keys.check:
            raise RegistryError("registry key does not match this registry")
        self.election_id = meta["election"]
        self.index_check = self._keys.index_check
        self.voters = int(meta["voters"])
        self._aead = AESGCM(self._keys.record)

    def voter_key(self, code: str) -> bytes:
        """The keyed hash of a canonical code, also what the ledger stores instead of the code."""
        return self._keys.index_of(code)

    def lookup(self, code: str) -> VoterRecord | None:
        """The record for a canonical national code, or None when the registry has none."""
        index = self._keys.index_of(code)
        row = self._db.execute("SELECT v FROM voters WHERE k = ?", (index,)).fetchone()
        if row is None:
            return None
        sealed: bytes = row[0]
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], index)
            return decode_record(plain)
        except (InvalidTag, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise RegistryError("a registry record failed its integrity check") from exc

    def close(self) -> None:
        """Release the file."""
        self._db.close()
