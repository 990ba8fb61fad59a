"""The authority's officials: branch heads and representatives enrolled by national code, role and branches.

The national codes are kept in the authority's folder only (0600, beside the
root key); the package gets `officials.json`, signed, with keyed hashes of the
codes in their place. Each change is one atomic write of the whole file, taken
under the folder's lock, so two commands at once cannot lose each other's change.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.card.profiles import parse_card_certificate
from drivers.errors import CardError
from kiosk.core.national_code import CodeProblem, parse_national_code, zeros_added
from kiosk.store.atomic import write_atomic
from kiosk.trust import card_slots, officials
from kiosk.trust.canonical import b64d, b64e
from kiosk.trust.officials import OfficialRole
from provisioning.authority import Authority, AuthorityRefused

KEPT = "officials-enrolled.json"   # in the authority folder: holds national codes, never copied into a package
_FORMAT = 1
_PROBLEMS = {
    CodeProblem.EMPTY: "none was given",
    CodeProblem.NOT_DIGITS: "it holds characters other than digits",
    CodeProblem.WRONG_LENGTH: "it is not ten digits",
    CodeProblem.REPEATED_DIGIT: "it is one digit ten times",
    CodeProblem.ZERO_SERIAL: "its six digits after the office prefix are all zero",
    CodeProblem.BAD_CHECKSUM: "its check digit does not match (a digit mistyped?)",
}


@dataclass(frozen=True, slots=True)
class KeptOfficial:
    """One official as the authority keeps them, national code included."""

    account: str
    role: OfficialRole
    branches: tuple[str, ...]
    national_code: str
    card_certificate: bytes | None = None   # DER, when the official's card may unlock their branches' devices

    def card(self) -> x509.Certificate | None:
        """The enrolled card's certificate, if any."""
        return None if self.card_certificate is None else x509.load_der_x509_certificate(self.card_certificate)

    @property
    def masked_code(self) -> str:
        """The code as a listing shows it: enough to tell two apart, not enough to copy (e.g. 001*****23)."""
        return mask(self.national_code)


def mask(national_code: str) -> str:
    """The first three and last two digits of a ten-digit code, the rest as stars."""
    return national_code[:3] + "*" * (len(national_code) - 5) + national_code[-2:]


def add_official(authority: Authority, account: str, role: str, branches: list[str],
                 national_code: str, card_certificate: bytes | None = None) -> bool:
    """Enroll an official, or replace the one of `account` (same code); True if it replaced one.

    `card_certificate` (DER or PEM, read from the official's card) lets that card unlock the devices of
    the official's branches: a head's the kiosks, a representative's the console. Replacing an official
    without one keeps the card enrolled before. AuthorityRefused, with nothing written, for a bad account
    id, role, branch or code, a certificate that is not this official's P-256 card certificate, an account
    kept for another code, or a code already enrolled under another account.
    """
    if not officials.ACCOUNT.fullmatch(account):
        raise AuthorityRefused(f"account {account[:40]!r} is not 1 to 32 characters of a-z, 0-9 and -")
    if role not in {r.value for r in OfficialRole}:
        raise AuthorityRefused(f"role {role[:20]!r} is not head or rep")
    wanted = tuple(dict.fromkeys(branches))
    unknown = sorted(set(wanted) - authority.config.branch_codes())
    if not wanted or unknown:
        raise AuthorityRefused(f"branch not in this election: {', '.join(unknown) or '(none given)'}")
    code = _code(national_code)
    card = None if card_certificate is None else _card_of(code, card_certificate)
    fresh = KeptOfficial(account, OfficialRole(role), wanted, code, card)
    with _locked(authority.folder):
        kept = load_officials(authority)
        before = next((o for o in kept if o.account == account), None)
        if card is None and before is not None and before.national_code == code:
            fresh = KeptOfficial(account, fresh.role, wanted, code, before.card_certificate)
        for other in kept:
            if other.account == account and other.national_code != code:
                raise AuthorityRefused(f"account {account} is enrolled with another national code; "
                                       "remove it first or choose another account")
            if other.national_code == code and other.account != account:
                if other.role is not fresh.role:
                    raise AuthorityRefused(f"this national code is enrolled as {other.role.value} {other.account}; "
                                           f"one person cannot be both head and rep (remove {other.account} first)")
                raise AuthorityRefused(f"this national code is enrolled as account {other.account}; "
                                       f"give that account the branches instead (--account {other.account})")
        replaced = any(o.account == account for o in kept)
        _save(authority, [fresh if o.account == account else o for o in kept] + ([] if replaced else [fresh]))
    return replaced


def remove_official(authority: Authority, account: str) -> None:
    """Take an official off the roster (the next package build leaves them out)."""
    with _locked(authority.folder):
        kept = load_officials(authority)
        if not any(o.account == account for o in kept):
            raise AuthorityRefused(f"no official has the account {account[:40]!r}")
        _save(authority, [o for o in kept if o.account != account])


def load_officials(authority: Authority) -> list[KeptOfficial]:
    """The enrolled officials in enrollment order; none before the first."""
    path = authority.folder / KEPT
    try:
        raw: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise AuthorityRefused(f"the officials kept in {path} are unreadable") from exc
    try:
        if raw["format"] != _FORMAT:
            raise ValueError("format")
        found = [KeptOfficial(str(o["account"]), OfficialRole(o["role"]), tuple(str(b) for b in o["branches"]),
                              str(o["national_code"]),
                              None if o.get("card_certificate") is None else b64d(o["card_certificate"]))
                 for o in raw["officials"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise AuthorityRefused(f"the officials kept in {path} are damaged") from exc
    if any(not isinstance(parse_national_code(o.national_code), str) for o in found):
        raise AuthorityRefused(f"the officials kept in {path} are damaged")
    return found


def signed_officials(authority: Authority) -> bytes:
    """The package's officials file: each official's account, role, branches and code hash, signed."""
    key = officials.officials_key(authority.index_secret())
    by_hash = {officials.code_hash(key, o.national_code): officials.Official(o.account, o.role, o.branches,
                                                                             o.card_certificate is not None)
               for o in load_officials(authority)}
    return officials.sign(officials.OfficialsRoster(authority.config.id, by_hash), authority.key)


def write_officials(staging: Path, authority: Authority) -> str:
    """Write the signed `officials.json` (code hashes only) into a package being built; its name, for the manifest."""
    write_atomic(staging / officials.FILE, signed_officials(authority))
    return officials.FILE


def _card_of(code: str, given: bytes) -> bytes:
    """The DER of an official's card certificate, checked to be theirs and usable for an unlock."""
    try:
        der = (x509.load_pem_x509_certificate(given) if given.lstrip().startswith(b"-----")
               else x509.load_der_x509_certificate(given)).public_bytes(serialization.Encoding.DER)
        on_card, cert = parse_card_certificate(der)
    except (ValueError, CardError) as exc:
        raise AuthorityRefused("the card certificate is not a readable card certificate (DER or PEM)") from exc
    if on_card != code:
        raise AuthorityRefused("the card certificate carries another national code than the one given")
    try:
        card_slots.wrappable_key(cert)
    except card_slots.CardSlotRefused as exc:
        raise AuthorityRefused(str(exc)) from exc
    return der


def _code(raw: str) -> str:
    """The canonical code, or a refusal that names the problem but never the digits."""
    code = parse_national_code(raw)
    if not isinstance(code, str):
        raise AuthorityRefused(f"not a valid national code: {_PROBLEMS[code.problem]}")
    if zeros_added(raw):
        # A code that lost a digit can pass the checksum as another person's: ask for all ten.
        raise AuthorityRefused("the national code has fewer than ten digits: give all ten, leading zeros included")
    return code


def _save(authority: Authority, kept: list[KeptOfficial]) -> None:
    payload = {"format": _FORMAT, "officials": [
        {"account": o.account, "role": o.role.value, "branches": list(o.branches), "national_code": o.national_code,
         "card_certificate": None if o.card_certificate is None else b64e(o.card_certificate)}
        for o in kept]}
    write_atomic(authority.folder / KEPT, json.dumps(payload, indent=1).encode(), mode=0o600)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The authority folder's lock (the one the build counter takes), held for one read-change-write."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock
