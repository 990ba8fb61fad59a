"""The authority's signed revocation list: devices shut out of the election, each from a given time.

A stolen or misbehaving device cannot be trusted from the moment it was lost:
its certificate stays valid, so the authority signs a numbered list of
(device id, revoked from). A higher number replaces a lower one. The list
reaches devices without a package rebuild (a USB stick, the console, the
province); every device and `collect` judge peers and events by it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.trust.canonical import b64d, b64e, canonical_json

FORMAT = 1
MAX_BYTES = 256 * 1024
MAX_ENTRIES = 4096
_CONTEXT = "kiosk revocations v1"
FILE = "revocations.json"   # in a device's state folder, and in the authority's folder


class RevocationRefused(Exception):
    """A revocation list that is malformed, not the authority's, or for another election."""


@dataclass(frozen=True, slots=True)
class RevocationList:
    """Numbered; each revoked device id maps to the UTC time from which it is revoked."""

    election_id: str
    number: int
    issued: str
    revoked: dict[str, str]

    def body(self) -> bytes:
        """The exact bytes the authority signs."""
        return canonical_json({"context": _CONTEXT, "format": FORMAT, "election": self.election_id,
                               "number": self.number, "issued": self.issued,
                               "revoked": dict(sorted(self.revoked.items()))})

    def revoked_from_ms(self, device_id: str) -> int | None:
        """Milliseconds since the epoch from which `device_id` is revoked, or None."""
        when = self.revoked.get(device_id)
        return None if when is None else int(dt.datetime.fromisoformat(when).timestamp() * 1000)


EMPTY_NUMBER = 0


def empty(election_id: str) -> RevocationList:
    """No device revoked: what a device holds before any list reached it."""
    return RevocationList(election_id, EMPTY_NUMBER, "", {})


def sign(revocations: RevocationList, key: ed25519.Ed25519PrivateKey) -> bytes:
    """The file form: the body's fields and the authority's signature."""
    body = json.loads(revocations.body())
    return canonical_json({**body, "signature": b64e(key.sign(revocations.body()))})


def parse(data: bytes, authority_public: ed25519.Ed25519PublicKey, election_id: str) -> RevocationList:
    """A verified list from its file form; RevocationRefused for anything else."""
    if len(data) > MAX_BYTES:
        raise RevocationRefused("revocation list too large")
    try:
        raw: Any = json.loads(data)
        if not isinstance(raw, dict) or set(raw) != {"context", "format", "election", "number", "issued",
                                                      "revoked", "signature"}:
            raise ValueError("fields")
        if raw["context"] != _CONTEXT or raw["format"] != FORMAT:
            raise ValueError("format")
        number, issued, revoked = raw["number"], raw["issued"], raw["revoked"]
        if type(number) is not int or not 1 <= number < 1 << 31 or not isinstance(issued, str):
            raise ValueError("number")
        if not isinstance(revoked, dict) or len(revoked) > MAX_ENTRIES:
            raise ValueError("revoked")
        for device, when in revoked.items():
            if not (isinstance(device, str) and len(device) == 16 and all(c in "0123456789abcdef" for c in device)):
                raise ValueError("device")
            if not isinstance(when, str) or dt.datetime.fromisoformat(when).tzinfo is None:
                raise ValueError("time")
        dt.datetime.fromisoformat(issued)
        signature = b64d(raw["signature"])
        found = RevocationList(str(raw["election"]), number, issued, dict(revoked))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise RevocationRefused("revocation list is malformed") from exc
    try:
        authority_public.verify(signature, found.body())
    except InvalidSignature as exc:
        raise RevocationRefused("revocation list is not signed by this election's authority") from exc
    if found.election_id != election_id:
        raise RevocationRefused("revocation list is for another election")
    return found
