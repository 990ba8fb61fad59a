"""The authority's signed list of officials: which account heads or represents which branches.

A device checks that a signed-in card's national code belongs to the branch's
head or representative by looking up a keyed hash of the code here. The file
(`officials.json` in the package) holds only those hashes; the key comes from
the election's index secret, which a device holds only after its start-of-day
unlock, so a package on its own links no national code to an official.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.core.national_code import parse_national_code
from kiosk.trust.canonical import b64d, b64e, canonical_json

FILE = "officials.json"   # in a package and in a device's installed copy
FORMAT = 2                # 2: each entry says whether the official's card is enrolled
MAX_BYTES = 16 * 1024 * 1024
MAX_OFFICIALS = 65_536
MAX_BRANCHES = 256        # a representative may serve every branch of a large site
_CONTEXT = "kiosk officials v1"
_KEY_INFO = b"kiosk officials v1"
_FIELDS = frozenset({"context", "format", "election", "officials", "signature"})
_ENTRY_FIELDS = frozenset({"account", "role", "branches", "code_hash", "card"})
ACCOUNT = re.compile(r"[a-z0-9-]{1,32}")
_BRANCH = re.compile(r"[0-9A-Za-z-]{1,16}")
_HASH = re.compile(r"[0-9a-f]{64}")


class OfficialsRefused(Exception):
    """An officials file that is malformed, not the authority's, or for another election; one-line reason."""


class OfficialRole(Enum):
    """What an official is to the branches listed: its head, or the governor's representative."""

    HEAD = "head"
    REP = "rep"


@dataclass(frozen=True, slots=True)
class Official:
    """One enrolled official, without the national code (the roster keeps only its keyed hash)."""

    account: str
    role: OfficialRole
    branches: tuple[str, ...]
    card: bool = False   # the authority enrolled this official's card: their decisions must carry its signature


@dataclass(frozen=True)
class OfficialsRoster:
    """The election's officials by the keyed hash of their national code."""

    election_id: str
    by_hash: dict[str, Official]

    def body(self) -> bytes:
        """The exact bytes the authority signs."""
        return canonical_json({"context": _CONTEXT, "format": FORMAT, "election": self.election_id,
                               "officials": _entries(self.by_hash)})

    def find(self, key: bytes, national_code: str) -> Official | None:
        """The official whose national code this is, or None (also for a string that is not a valid code)."""
        try:
            return self.by_hash.get(code_hash(key, national_code))
        except ValueError:
            return None

    def heads_of(self, branch: str) -> list[Official]:
        """The heads of `branch`, by account."""
        return self._of(OfficialRole.HEAD, branch)

    def reps_of(self, branch: str) -> list[Official]:
        """The representatives serving `branch`, by account."""
        return self._of(OfficialRole.REP, branch)

    def _of(self, role: OfficialRole, branch: str) -> list[Official]:
        return sorted((o for o in self.by_hash.values() if o.role is role and branch in o.branches),
                      key=lambda o: o.account)


def officials_key(index_secret: bytes) -> bytes:
    """The key of the code hashes, derived from the election's index secret (the device's after its unlock)."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=_KEY_INFO).derive(index_secret)


def code_hash(key: bytes, national_code: str) -> str:
    """Hex HMAC-SHA256 of the code's ten ASCII digits (any digit script accepted); ValueError if not a valid code."""
    code = parse_national_code(national_code)
    if not isinstance(code, str):
        raise ValueError(f"not a national code: {code.problem.value}")
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def empty(election_id: str) -> OfficialsRoster:
    """No official enrolled (a valid roster: an election may enroll its officials later)."""
    return OfficialsRoster(election_id, {})


def sign(roster: OfficialsRoster, key: ed25519.Ed25519PrivateKey) -> bytes:
    """The file form: the body's fields and the authority's signature over the body."""
    body = roster.body()
    return canonical_json({**json.loads(body), "signature": b64e(key.sign(body))})


def parse(data: bytes, authority_public: ed25519.Ed25519PublicKey, election_id: str) -> OfficialsRoster:
    """A verified roster from its file form; OfficialsRefused, with the reason, for anything else."""
    if len(data) > MAX_BYTES:
        raise OfficialsRefused(f"officials file is too large ({len(data)} bytes; at most {MAX_BYTES})")
    try:
        raw: Any = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        raise OfficialsRefused(f"officials file has the field {_names([str(exc)])} twice") from None
    except (ValueError, RecursionError):
        raise OfficialsRefused("officials file is not JSON") from None
    if not isinstance(raw, dict):
        raise OfficialsRefused("officials file is not a JSON object")
    _exact_fields(raw, _FIELDS, "officials file")
    if raw["context"] != _CONTEXT or raw["format"] != FORMAT or type(raw["format"]) is not int:
        raise OfficialsRefused(f"officials file is not format {FORMAT} of {_CONTEXT!r}")
    if raw["election"] != election_id:
        raise OfficialsRefused("officials file is for another election")
    entries = raw["officials"]
    if not isinstance(entries, list):
        raise OfficialsRefused("officials file: officials is not a list")
    if len(entries) > MAX_OFFICIALS:
        raise OfficialsRefused(f"officials file lists {len(entries)} officials; at most {MAX_OFFICIALS}")
    found = OfficialsRoster(election_id, _officials(entries))
    try:
        signature = b64d(raw["signature"])
        authority_public.verify(signature, found.body())
    except (ValueError, InvalidSignature):
        raise OfficialsRefused("officials file is not signed by this election's authority") from None
    return found


def _officials(entries: list[Any]) -> dict[str, Official]:
    by_hash: dict[str, Official] = {}
    accounts: set[str] = set()
    for n, entry in enumerate(entries, 1):
        where = f"officials file, entry {n}"
        if not isinstance(entry, dict):
            raise OfficialsRefused(f"{where} is not an object")
        _exact_fields(entry, _ENTRY_FIELDS, where)
        account, role, branches, digest = entry["account"], entry["role"], entry["branches"], entry["code_hash"]
        if type(entry["card"]) is not bool:
            raise OfficialsRefused(f"{where}: card is not true or false")
        if not isinstance(account, str) or not ACCOUNT.fullmatch(account):
            raise OfficialsRefused(f"{where}: account is not 1 to 32 characters of a-z, 0-9 and -")
        if role not in ("head", "rep"):
            raise OfficialsRefused(f"{where}: role is not head or rep")
        if (not isinstance(branches, list) or not 1 <= len(branches) <= MAX_BRANCHES
                or not all(isinstance(b, str) and _BRANCH.fullmatch(b) for b in branches)):
            raise OfficialsRefused(f"{where}: branches is not a list of 1 to {MAX_BRANCHES} branch codes")
        if len(set(branches)) != len(branches):
            raise OfficialsRefused(f"{where}: a branch is listed twice")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise OfficialsRefused(f"{where}: code_hash is not 64 lowercase hex digits")
        if account in accounts:
            raise OfficialsRefused(f"officials file lists account {account} twice")
        if digest in by_hash:
            raise OfficialsRefused(f"officials file gives one national code to two accounts "
                                   f"({by_hash[digest].account}, {account})")
        accounts.add(account)
        by_hash[digest] = Official(account, OfficialRole(role), tuple(branches), entry["card"])
    return by_hash


def _entries(by_hash: dict[str, Official]) -> list[dict[str, Any]]:
    """The signed form of the entries, by account, so the same roster always signs the same bytes."""
    return [{"account": o.account, "role": o.role.value, "branches": list(o.branches), "code_hash": h, "card": o.card}
            for h, o in sorted(by_hash.items(), key=lambda item: item[1].account)]


def _exact_fields(raw: dict[str, Any], wanted: frozenset[str], where: str) -> None:
    unknown, missing = sorted(set(raw) - wanted), sorted(wanted - set(raw))
    if unknown:
        raise OfficialsRefused(f"{where} has unknown fields: {_names(unknown)}")
    if missing:
        raise OfficialsRefused(f"{where} lacks fields: {_names(missing)}")


def _names(keys: list[str]) -> str:
    """Field names as a refusal quotes them: escaped and cut short, since they come from the file."""
    shown = ", ".join(repr(k[:40]) for k in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


class _DuplicateKey(ValueError):
    """A JSON object with one key twice: json.loads would keep the last silently."""


def _no_duplicate_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
