"""A device's other share, wrapped to a branch head's card so that only that card's key opens it.

The authority knows the head's card certificate from enrollment. For each
device the head may unlock it makes an ephemeral P-256 key, agrees a secret
with the card's public key (ECDH), and seals the share under a key derived
from it. At start of day the card, after it accepted its PIN, computes the
same secret from the ephemeral public key (PSO: DECIPHER); the device never
holds a key that opens the slot by itself. A copied certificate is no help:
the secret needs the card's private key.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class CardSlotRefused(Exception):
    """A card whose key does not open the slot, or a slot that cannot be made for this card."""


@dataclass(frozen=True, slots=True)
class CardSlot:
    """One head's card's way to the device's other share."""

    certificate_sha256: str   # hex; which card the slot is for (the certificate is public, its hash names it)
    ephemeral: bytes          # uncompressed P-256 point the card agrees a secret with
    wrapped: bytes            # nonce ‖ AES-GCM of the share


def certificate_id(certificate: x509.Certificate) -> str:
    """How a slot names a card: SHA-256 of its certificate's DER."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _wrapping_key(secret: bytes, slot_id: str, election_id: str, device_id: str) -> bytes:
    info = f"kiosk card slot v1|{election_id}|{device_id}|{slot_id}".encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(secret)


def wrappable_key(certificate: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The card's key if a slot can be made for it; CardSlotRefused otherwise (only P-256 today)."""
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise CardSlotRefused("the card's key is not P-256: this project cannot yet wrap an unlock to it")
    return public


def make_slot(certificate: x509.Certificate, share: bytes, election_id: str, device_id: str) -> CardSlot:
    """The authority's side; CardSlotRefused for a card key this project cannot wrap to."""
    public = wrappable_key(certificate)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    slot_id = certificate_id(certificate)
    key = _wrapping_key(ephemeral.exchange(ec.ECDH(), public), slot_id, election_id, device_id)
    nonce = os.urandom(12)
    point = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    return CardSlot(slot_id, point, nonce + AESGCM(key).encrypt(nonce, share, slot_id.encode()))


def open_slot(slot: CardSlot, card_secret: bytes, election_id: str, device_id: str) -> bytes:
    """The share, from the secret the card computed with the slot's ephemeral key; CardSlotRefused otherwise."""
    key = _wrapping_key(card_secret, slot.certificate_sha256, election_id, device_id)
    try:
        return AESGCM(key).decrypt(slot.wrapped[:12], slot.wrapped[12:], slot.certificate_sha256.encode())
    except (InvalidTag, ValueError) as exc:
        raise CardSlotRefused("this card's key does not open the device") from exc
