"""A device's share and locked secrets, wrapped for that device, in a small file the authority signs.

One envelope per device means a device enrolled after the build gets its
envelope without the registry being rebuilt. Format 2 carries a
kiosk.trust.daykeys.DeviceEnvelope: opening it needs only the device's at-rest
key, and what it opens is useless without the start-of-day share.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.trust.canonical import b64d, b64e, canonical_json

FORMAT = 2
MAX_ENVELOPE_BYTES = 65536   # a console's carries a share for each kiosk it may unlock


class EnvelopeRefused(Exception):
    """An envelope that is malformed, unsigned, for another device, or does not open."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Sealed contents addressed to one device of one election."""

    election_id: str
    device_id: str
    ephemeral: bytes
    nonce: bytes
    wrapped: bytes
    signature: bytes

    def body(self) -> dict[str, Any]:
        """The signed part."""
        return {
            "format": FORMAT, "election": self.election_id, "device": self.device_id,
            "ephemeral": b64e(self.ephemeral), "nonce": b64e(self.nonce), "wrapped": b64e(self.wrapped),
        }

    def to_bytes(self) -> bytes:
        """The file form: the body plus the authority's signature."""
        return canonical_json({**self.body(), "signature": b64e(self.signature)})


def _kek(shared: bytes, election_id: str, device_id: str) -> tuple[bytes, bytes]:
    info = f"kiosk device envelope v{FORMAT}|{election_id}|{device_id}".encode()
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)
    return kek, info


def seal(contents: bytes, election_id: str, device_id: str, device_unwrap_public: bytes,
         authority_key: ed25519.Ed25519PrivateKey) -> Envelope:
    """Wrap `contents` so only the holder of the device's X25519 key can open it."""
    ephemeral = x25519.X25519PrivateKey.generate()
    shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(device_unwrap_public))
    kek, info = _kek(shared, election_id, device_id)
    nonce = os.urandom(12)
    wrapped = AESGCM(kek).encrypt(nonce, contents, info)
    eph_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    unsigned = Envelope(election_id, device_id, eph_raw, nonce, wrapped, b"")
    signature = authority_key.sign(canonical_json(unsigned.body()))
    return Envelope(election_id, device_id, eph_raw, nonce, wrapped, signature)


def parse(data: bytes, authority_public: ed25519.Ed25519PublicKey) -> Envelope:
    """Decode an envelope file strictly and check the authority's signature."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeRefused("envelope too large")
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("format")
        if raw.get("format") != FORMAT:
            raise EnvelopeRefused("envelope was made by an older version: rebuild the package")
        env = Envelope(
            election_id=_text(raw["election"]), device_id=_text(raw["device"]),
            ephemeral=b64d(raw["ephemeral"]), nonce=b64d(raw["nonce"]),
            wrapped=b64d(raw["wrapped"]), signature=b64d(raw["signature"]),
        )
        if set(raw) != {"format", "election", "device", "ephemeral", "nonce", "wrapped", "signature"}:
            raise ValueError("fields")
    except (ValueError, KeyError, TypeError) as exc:
        raise EnvelopeRefused("envelope is malformed") from exc
    try:
        authority_public.verify(env.signature, canonical_json(env.body()))
    except InvalidSignature as exc:
        raise EnvelopeRefused("envelope is not signed by the election authority") from exc
    return env


def open_envelope(env: Envelope, unwrap_key: x25519.X25519PrivateKey) -> bytes:
    """Recover the contents with the device's X25519 private key."""
    try:
        shared = unwrap_key.exchange(x25519.X25519PublicKey.from_public_bytes(env.ephemeral))
        kek, info = _kek(shared, env.election_id, env.device_id)
        return AESGCM(kek).decrypt(env.nonce, env.wrapped, info)
    except (InvalidTag, ValueError) as exc:
        raise EnvelopeRefused("envelope does not open with this device's key") from exc


def _text(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise ValueError("text field")
    return value
