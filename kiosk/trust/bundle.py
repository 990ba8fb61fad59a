"""The close-of-polls export bundle: signed by the device, readable only by the election authority.

One file, so a USB stick carries one thing per device:

    KIOSK-EXPORT/1\\n
    <header: canonical JSON, one line>\\n
    <AES-256-GCM ciphertext>

The header is in clear (election, device, role, branches, time, the
ephemeral X25519 key and nonce) so the authority can sort bundles before
opening them; it is the cipher's associated data, so changing it breaks the
tag. The plaintext is the device's Ed25519 signature (64 bytes) over
header + content, then the content. The key comes from an X25519 exchange
with the authority's export key, which the signed election package carries.
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

MAGIC = b"KIOSK-EXPORT/1\n"
SUFFIX = ".kexport"
MAX_HEADER = 4096
_HEADER_KEYS = {"format", "election", "device", "role", "branches", "created", "ephemeral", "nonce"}
_SIGNATURE = 64


class BundleRefused(Exception):
    """A bundle that is malformed, altered, foreign or not signed by the device it names."""


@dataclass(frozen=True, slots=True)
class Header:
    """What a bundle says about itself in clear."""

    election: str
    device: str
    role: str
    branches: tuple[str, ...]
    created: str
    ephemeral: bytes
    nonce: bytes

    def to_bytes(self) -> bytes:
        """The header line as it is written and authenticated."""
        return canonical_json({"format": 1, "election": self.election, "device": self.device, "role": self.role,
                               "branches": list(self.branches), "created": self.created,
                               "ephemeral": b64e(self.ephemeral), "nonce": b64e(self.nonce)})


@dataclass(frozen=True, slots=True)
class Opened:
    """A decrypted bundle whose signature is still to be checked against the device's certificate."""

    header: Header
    header_bytes: bytes
    signature: bytes
    content: bytes

    def verify(self, device_public: ed25519.Ed25519PublicKey) -> None:
        """Check the device's signature over header and content."""
        try:
            device_public.verify(self.signature, self.header_bytes + self.content)
        except InvalidSignature as exc:
            raise BundleRefused("the device's signature on the bundle does not verify") from exc


def recipient_pem(public: x25519.X25519PublicKey) -> bytes:
    """The authority's export key as the package carries it."""
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_recipient(pem: bytes) -> x25519.X25519PublicKey:
    """The authority's export key from the package; ValueError if it is not an X25519 key."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, x25519.X25519PublicKey):
        raise ValueError("export key is not X25519")
    return key


def _key(shared: bytes, election: str, device: str) -> bytes:
    info = f"kiosk export v1|{election}|{device}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def seal(*, election: str, device: str, role: str, branches: tuple[str, ...], created: str, content: bytes,
         device_key: ed25519.Ed25519PrivateKey, recipient: x25519.X25519PublicKey) -> bytes:
    """The bundle file's bytes: content signed by the device and encrypted to the authority."""
    ephemeral = x25519.X25519PrivateKey.generate()
    eph_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = Header(election, device, role, branches, created, eph_raw, os.urandom(12))
    header_bytes = header.to_bytes()
    signature = device_key.sign(header_bytes + content)
    key = _key(ephemeral.exchange(recipient), election, device)
    aad = MAGIC + header_bytes + b"\n"
    return aad + AESGCM(key).encrypt(header.nonce, signature + content, aad)


def read_header(data: bytes) -> tuple[Header, bytes, bytes]:
    """(header, its bytes, ciphertext) of a bundle file, checked strictly; nothing decrypted yet."""
    if not data.startswith(MAGIC):
        raise BundleRefused("not an export bundle (no KIOSK-EXPORT/1 mark)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER)
    if end < 0:
        raise BundleRefused("bundle header is missing or too long")
    header_bytes = data[len(MAGIC):end]
    try:
        raw: Any = json.loads(header_bytes)
        if not isinstance(raw, dict) or set(raw) != _HEADER_KEYS or raw["format"] != 1:
            raise ValueError("fields")
        branches = raw["branches"]
        if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
            raise ValueError("branches")
        header = Header(_text(raw["election"]), _text(raw["device"]), _text(raw["role"]), tuple(branches),
                        _text(raw["created"]), b64d(raw["ephemeral"]), b64d(raw["nonce"]))
        if len(header.ephemeral) != 32 or len(header.nonce) != 12 or header.to_bytes() != header_bytes:
            raise ValueError("encoding")
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleRefused("bundle header is malformed") from exc
    return header, header_bytes, data[end + 1:]


def open_bundle(data: bytes, recipient_key: x25519.X25519PrivateKey) -> Opened:
    """Decrypt a bundle with the authority's export key; the device's signature is checked by the caller."""
    header, header_bytes, ciphertext = read_header(data)
    try:
        shared = recipient_key.exchange(x25519.X25519PublicKey.from_public_bytes(header.ephemeral))
    except ValueError as exc:  # a low-order point: no honest device sends one
        raise BundleRefused("bundle header carries an unusable key") from exc
    key = _key(shared, header.election, header.device)
    try:
        plain = AESGCM(key).decrypt(header.nonce, ciphertext, MAGIC + header_bytes + b"\n")
    except InvalidTag as exc:
        raise BundleRefused("bundle does not decrypt: altered, cut short, or not encrypted to this authority") from exc
    if len(plain) < _SIGNATURE:
        raise BundleRefused("bundle is empty")
    return Opened(header, header_bytes, plain[:_SIGNATURE], plain[_SIGNATURE:])


def _text(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("text field")
    return value
