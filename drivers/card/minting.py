"""Minting card certificates for the test profile: the fake cards of tests, demos and bench checks.

Every key is made at run time; nothing here is a real card authority.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


DEMO_CARD_PIN = "4821"   # the PIN of ./dev demo's virtual official's card (a test card's, never a real one)


@dataclass(frozen=True)
class IssuedCard:
    """A card's certificate and the holder key that only the card should have."""

    certificate: bytes
    key: ec.EllipticCurvePrivateKey

    def key_pem(self) -> bytes:
        """The key as the virtual card process reads it (tests and demos only)."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


class CardAuthority:
    """A throwaway card CA (ECDSA P-256, as national-ID schemes commonly use)."""

    def __init__(self, name: str = "Test National ID CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=3650)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def card_certificate(self, national_code: str, valid_days: int = 3650) -> bytes:
        """DER certificate of a card whose subject serialNumber is `national_code`."""
        return self.issue(national_code, valid_days).certificate

    def issue(self, national_code: str, valid_days: int = 3650) -> IssuedCard:
        """A card for `national_code`: its certificate and its holder key."""
        holder = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, national_code),
                                     x509.NameAttribute(NameOID.COMMON_NAME, "card holder")]))
            .issuer_name(self.certificate.subject).public_key(holder.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=365)).not_valid_after(now + dt.timedelta(days=valid_days))
            .sign(self.key, hashes.SHA256())
        )
        return IssuedCard(cert.public_bytes(serialization.Encoding.DER), holder)

    def pem(self) -> bytes:
        """The CA certificate, for an election's card_trust_anchors."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)
