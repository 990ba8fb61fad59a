"""Start-of-day unlock: the keys a device serves with exist on disk only as one of two shares.

The device's envelope, opened with its at-rest X25519 key, holds the device's
share and the device's secrets locked under the day key that both shares make.
The other share comes at start of day from the branch head's card, from the
representative's console, or from the recovery code the authority printed for
the branch's sealed envelope (DESIGN.md, second wave). Neither share alone
opens anything; the day key lives in memory only.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.core.national_code import ascii_digits_only
from kiosk.trust.canonical import b64d, b64e, canonical_json
from kiosk.trust.card_slots import CardSlot
from kiosk.trust.sealed import DataKeys, raw_public

SHARE_BYTES = 32
RECOVERY_DIGITS = 20          # 18 random digits (about 60 bits) and two ISO 7064 mod 97-10 check digits
_SCRYPT = {"n": 1 << 14, "r": 8, "p": 1, "maxmem": 64 << 20, "dklen": SHARE_BYTES}
_FORMAT = 1
_ENVELOPE_FORMAT = 2          # 2: with the heads' card slots
_ENVELOPE_FIELDS = {"format", "share", "locked", "data_public", "index_check", "card_slots"}
MAX_CARD_SLOTS = 64


class ShareRefused(Exception):
    """A share, code or envelope content that does not unlock this device."""


class RecoveryCodeRefused(ValueError):
    """A typed recovery code that cannot be right: wrong length or check digits (nothing was tried)."""

    def __init__(self, typed_digits: int) -> None:
        super().__init__(f"recovery code: {typed_digits} of {RECOVERY_DIGITS} digits, or a digit is wrong")
        self.typed_digits = typed_digits


def day_key(device_share: bytes, other_share: bytes, election_id: str, device_id: str) -> bytes:
    """The key both shares make; bound to the election and the device."""
    if len(device_share) != SHARE_BYTES or len(other_share) != SHARE_BYTES:
        raise ShareRefused("a share has the wrong length")
    info = f"kiosk day key v1|{election_id}|{device_id}".encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(device_share + other_share)


def data_private(day: bytes) -> x25519.X25519PrivateKey:
    """The device's data key (staff records, cases, decisions), derived from the day key."""
    seed = HKDF(hashes.SHA256(), 32, salt=None, info=b"kiosk data key v1").derive(day)
    return x25519.X25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True, slots=True)
class Secrets:
    """What an unlock yields besides the data key.

    A kiosk gets the registry key (records, and the index secret in its first
    half); a console gets none, only the other share of each kiosk it may
    unlock. Both get the key that hashes officials' national codes.
    """

    registry_key: bytes | None
    officials_key: bytes
    kiosk_shares: Mapping[str, bytes] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The locked form's plaintext."""
        return canonical_json({
            "format": _FORMAT, "officials_key": b64e(self.officials_key),
            "registry_key": b64e(self.registry_key) if self.registry_key is not None else None,
            "kiosk_shares": {device: b64e(share) for device, share in sorted(self.kiosk_shares.items())},
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> Secrets:
        """Strict parse of an opened locked form."""
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or set(raw) != {"format", "officials_key", "registry_key", "kiosk_shares"}:
                raise ValueError("fields")
            if raw["format"] != _FORMAT or not isinstance(raw["kiosk_shares"], dict):
                raise ValueError("format")
            registry = b64d(raw["registry_key"]) if raw["registry_key"] is not None else None
            shares = {str(k): b64d(v) for k, v in raw["kiosk_shares"].items()}
            return cls(registry, b64d(raw["officials_key"]), shares)
        except (ValueError, TypeError, KeyError) as exc:
            raise ShareRefused("the device's secrets are malformed") from exc


def _aad(election_id: str, device_id: str) -> bytes:
    return f"kiosk locked secrets v1|{election_id}|{device_id}".encode()


def lock(day: bytes, secrets: Secrets, election_id: str, device_id: str) -> bytes:
    """The secrets locked under the day key (nonce ‖ AES-GCM)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(day).encrypt(nonce, secrets.to_bytes(), _aad(election_id, device_id))


def unlock(day: bytes, locked: bytes, election_id: str, device_id: str) -> Secrets:
    """Open the locked secrets; ShareRefused when the day key is not this device's."""
    try:
        plain = AESGCM(day).decrypt(locked[:12], locked[12:], _aad(election_id, device_id))
    except (InvalidTag, ValueError) as exc:
        raise ShareRefused("this share does not unlock the device") from exc
    return Secrets.from_bytes(plain)


@dataclass(frozen=True, slots=True)
class DeviceEnvelope:
    """What a device's envelope holds once its at-rest key opened it: its share and its locked secrets.

    `data_public` lets a locked device seal records (the technician sets the head's PIN before any unlock);
    `index_check` names the election's index key, so an install can tell whether a ledger belongs to it;
    `card_slots` hold the other share for each branch head's card that may unlock the device.
    """

    share: bytes
    locked: bytes
    data_public: bytes
    index_check: str
    card_slots: tuple[CardSlot, ...] = ()

    def to_bytes(self) -> bytes:
        """The envelope's plaintext."""
        slots = [{"card": s.certificate_sha256, "ephemeral": b64e(s.ephemeral), "wrapped": b64e(s.wrapped)}
                 for s in self.card_slots]
        return canonical_json({"format": _ENVELOPE_FORMAT, "share": b64e(self.share), "locked": b64e(self.locked),
                               "data_public": b64e(self.data_public), "index_check": self.index_check,
                               "card_slots": slots})

    def slot_for(self, certificate_sha256: str) -> CardSlot | None:
        """The slot of the card with this certificate, if the authority made one."""
        return next((s for s in self.card_slots if s.certificate_sha256 == certificate_sha256), None)

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceEnvelope:
        """Strict parse; ShareRefused for anything else (an envelope of an older format included)."""
        try:
            raw: Any = json.loads(data)
            if not isinstance(raw, dict) or set(raw) != _ENVELOPE_FIELDS:
                raise ValueError("fields")
            if raw["format"] != _ENVELOPE_FORMAT or not isinstance(raw["index_check"], str):
                raise ValueError("format")
            if not isinstance(raw["card_slots"], list) or len(raw["card_slots"]) > MAX_CARD_SLOTS:
                raise ValueError("card slots")
            slots = tuple(_card_slot(s) for s in raw["card_slots"])
            made = cls(b64d(raw["share"]), b64d(raw["locked"]), b64d(raw["data_public"]), raw["index_check"], slots)
        except (ValueError, TypeError, KeyError) as exc:
            raise ShareRefused("the envelope was made by an older version or is damaged; rebuild the package") \
                from exc
        if len(made.share) != SHARE_BYTES or len(made.data_public) != 32:
            raise ShareRefused("the envelope's share has the wrong length")
        return made

    def data_keys(self, day: bytes | None = None) -> DataKeys:
        """The data key: public half always, private half when the day key is known."""
        public = x25519.X25519PublicKey.from_public_bytes(self.data_public)
        if day is None:
            return DataKeys(public)
        private = data_private(day)
        if raw_public(private.public_key()) != self.data_public:
            raise ShareRefused("this share does not unlock the device")
        return DataKeys(public, private)


def _card_slot(raw: Any) -> CardSlot:
    if not isinstance(raw, dict) or set(raw) != {"card", "ephemeral", "wrapped"} or not isinstance(raw["card"], str):
        raise ValueError("card slot")
    slot = CardSlot(raw["card"], b64d(raw["ephemeral"]), b64d(raw["wrapped"]))
    if len(slot.certificate_sha256) != 64 or len(slot.ephemeral) != 65 or len(slot.wrapped) != 12 + SHARE_BYTES + 16:
        raise ValueError("card slot")
    return slot


def make_envelope(device_share: bytes, other_share: bytes, secrets: Secrets, election_id: str, device_id: str,
                  index_check: str, card_slots: tuple[CardSlot, ...] = ()) -> DeviceEnvelope:
    """The authority's side: lock a device's secrets under the day key its two shares make."""
    day = day_key(device_share, other_share, election_id, device_id)
    data_public = raw_public(data_private(day).public_key())
    return DeviceEnvelope(device_share, lock(day, secrets, election_id, device_id), data_public, index_check,
                          card_slots)


# -- the recovery code --------------------------------------------------------------------------------

def _check_digits(body: str) -> str:
    return f"{98 - (int(body) * 100) % 97:02d}"


def new_recovery_code() -> str:
    """A fresh recovery code: 18 random digits and two check digits that catch a wrong or swapped digit."""
    body = f"{random.randbelow(10 ** (RECOVERY_DIGITS - 2)):0{RECOVERY_DIGITS - 2}d}"
    return body + _check_digits(body)


def parse_recovery_code(typed: str) -> str:
    """The 20 ASCII digits of a typed code (any digit script, spaces and dashes ignored).

    RecoveryCodeRefused for a code of the wrong length or whose check digits do not match: the
    kiosk says so at once, before the slow derivation is tried.
    """
    digits = ascii_digits_only("".join(c for c in typed if not (c.isspace() or c in "-\u200c")))
    if not (digits.isascii() and digits.isdigit()):
        raise RecoveryCodeRefused(sum(c.isdigit() for c in digits))
    if len(digits) != RECOVERY_DIGITS or _check_digits(digits[:-2]) != digits[-2:]:
        raise RecoveryCodeRefused(len(digits))
    return digits


def format_recovery_code(code: str) -> str:
    """Groups of four, as printed for the sealed envelope and shown as typed."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def share_from_recovery_code(code: str, election_id: str, device_id: str) -> bytes:
    """The other share a recovery code stands for (scrypt: a copied envelope is no oracle for guessing)."""
    salt = f"kiosk recovery v1|{election_id}|{device_id}".encode()
    return hashlib.scrypt(parse_recovery_code(code).encode(), salt=salt, **_SCRYPT)

