"""Records sealed to a device's data key: written while the device is locked, read only once it is unlocked.

A technician sets the branch head's PIN before the day's unlock, and a kiosk
may raise a case the moment it is unlocked; both write with the public half of
the data key, which the device's envelope carries. Reading (a sign-in, the
case book, the courier) needs the private half, which exists only in memory
after the start-of-day unlock (kiosk.trust.daykeys). Anonymous X25519 sealing
with AES-GCM, the record's context as associated data so a sealed field moved
to another record or another device does not open.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.trust.canonical import b64d, b64e

_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
_HEAD = 32 + 12   # ephemeral public key, nonce


class Locked(Exception):
    """The device is locked: a sealed record cannot be read until the start-of-day unlock."""


class SealRefused(Exception):
    """A sealed record that is damaged, moved, or sealed to another key."""


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"kiosk sealed v1" + ephemeral + recipient).derive(shared)


def raw_public(key: x25519.X25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(*_RAW)


@dataclass(frozen=True, slots=True)
class DataKeys:
    """A device's data key: the public half always, the private half only while unlocked."""

    public: x25519.X25519PublicKey
    private: x25519.X25519PrivateKey | None = None

    @property
    def unlocked(self) -> bool:
        """Whether sealed records can be read."""
        return self.private is not None

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Seal `plaintext` so only the private half opens it, bound to `context`."""
        ephemeral = x25519.X25519PrivateKey.generate()
        eph = raw_public(ephemeral.public_key())
        nonce = os.urandom(12)
        key = _key(ephemeral.exchange(self.public), eph, raw_public(self.public))
        return eph + nonce + AESGCM(key).encrypt(nonce, plaintext, context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        """The plaintext of a sealed record; Locked before the unlock, SealRefused when it does not open."""
        if self.private is None:
            raise Locked("the device is locked: unlock it at start of day")
        if len(blob) < _HEAD + 16:
            raise SealRefused("sealed record is truncated")
        eph, nonce, body = blob[:32], blob[32:_HEAD], blob[_HEAD:]
        try:
            key = _key(self.private.exchange(x25519.X25519PublicKey.from_public_bytes(eph)), eph,
                       raw_public(self.public))
            return AESGCM(key).decrypt(nonce, body, context)
        except (InvalidTag, ValueError) as exc:
            raise SealRefused("sealed record does not open with this device's data key") from exc

    def locked(self) -> DataKeys:
        """The same key with the private half forgotten."""
        return DataKeys(self.public)

    def seal_text(self, text: str, context: bytes) -> str:
        """A sealed record as text a JSON file or a TEXT column keeps: SEALED_TEXT and base64."""
        return SEALED_TEXT + b64e(self.seal(text.encode(), context))

    def open_text(self, stored: str, context: bytes) -> str:
        """The text `seal_text` sealed; text without the mark (an earlier version's clear record) as it is."""
        if not is_sealed_text(stored):
            return stored
        return self.open(b64d(stored[len(SEALED_TEXT):]), context).decode()


SEALED_TEXT = "sealed:"   # how a sealed record starts when kept as text; clear JSON, or "", never does


def is_sealed_text(stored: object) -> TypeGuard[str]:
    """Whether a stored value is a `seal_text` record (else it was written in clear, before sealing)."""
    return isinstance(stored, str) and stored.startswith(SEALED_TEXT)
