"""What a card's private key proves: a signature over a fresh challenge, checked against the card's certificate.

A certificate is public and can be copied onto any card; only the key that
matches it cannot. So a sign-in (or a decision) counts only when the card
signed a digest this device just made, bound to what it is for, and the
signature verifies with the certificate's public key.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

NONCE_BYTES = 32


@dataclass(frozen=True, slots=True)
class Challenge:
    """A fresh challenge and the digest the card signs."""

    purpose: str
    nonce: bytes

    def digest(self, election_id: str, device_id: str) -> bytes:
        """SHA-256 of what the signature binds: purpose, election, device and the nonce."""
        return challenge_digest(self.purpose, election_id, device_id, self.nonce)


def fresh_challenge(purpose: str) -> Challenge:
    """A challenge no card has signed before."""
    return Challenge(purpose, os.urandom(NONCE_BYTES))


def challenge_digest(purpose: str, election_id: str, device_id: str, body: bytes) -> bytes:
    """The digest a card signs for `purpose` (sign-in, unlock, a decision's canonical bytes)."""
    head = f"kiosk card proof v1|{purpose}|{election_id}|{device_id}|".encode()
    return hashlib.sha256(head + body).digest()


def signature_holds(certificate: x509.Certificate, digest: bytes, signature: bytes) -> bool:
    """True when `signature` over `digest` verifies with the certificate's key (ECDSA DER or r‖s, or RSA PKCS#1)."""
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(_der_ecdsa(key, signature), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _der_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes) -> bytes:
    """Cards answer ECDSA as DER or as plain r‖s; verification wants DER."""
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[0] != 0x30:
        return encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
    return signature
