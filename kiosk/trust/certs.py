"""X.509 for the election: the authority's root, device requests and device certificates.

A device certificate carries, in an extension of the project's own, its role,
the branches it serves, the election, and the device's X25519 public key used
to unwrap the registry key. The authority's certificate names the election.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import NameOID

from kiosk.trust.canonical import b64d, b64e, canonical_json

# Self-assigned under the UUID arc (ITU-T X.667), so no registration is needed.
OID_ARC = "2.25.199456630718250221628274244414510133679"
OID_DEVICE = x509.ObjectIdentifier(OID_ARC + ".1")
OID_ELECTION = x509.ObjectIdentifier(OID_ARC + ".2")
OID_REQUEST = x509.ObjectIdentifier(OID_ARC + ".3")

# Certificates must not expire on a device whose clock is wrong: they span the
# election generously and are judged against the election day.
VALID_BEFORE = dt.timedelta(days=400)
VALID_AFTER = dt.timedelta(days=400)


class Role(Enum):
    """What a device is for; a peer accepts only the role it expects."""

    KIOSK = "kiosk"
    REP = "rep"


@dataclass(frozen=True, slots=True)
class DeviceClaims:
    """What the authority vouches for about a device."""

    device_id: str
    role: Role
    branches: tuple[str, ...]
    election_id: str
    unwrap_public: bytes


class CertificateRefused(Exception):
    """A certificate or request that does not belong to this election's chain."""


def device_id_for(public_key: ed25519.Ed25519PublicKey) -> str:
    """A short stable id derived from the device's signing key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex; what TXT records and rosters quote."""
    return cert.fingerprint(hashes.SHA256()).hex()


def new_authority(election_id: str, election_name: str, election_day: dt.date) -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
    """Create the election's root key and its self-signed certificate."""
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Election Authority"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"election {election_id}"),
    ])
    info = canonical_json({"election": election_id, "name": election_name, "day": election_day.isoformat()})
    start = _midnight(election_day) - VALID_BEFORE
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(_midnight(election_day) + VALID_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.UnrecognizedExtension(OID_ELECTION, info), critical=False)
        .sign(key, None)
    )
    return key, cert


def authority_election(cert: x509.Certificate) -> dict[str, Any]:
    """The election a self-signed Ed25519 authority certificate was made for ({election, name, day})."""
    public = cert.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise CertificateRefused("not an election authority certificate (key is not Ed25519)")
    try:
        public.verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature as exc:
        raise CertificateRefused("authority certificate is not self-signed") from exc
    try:
        ext = cert.extensions.get_extension_for_oid(OID_ELECTION).value
        data = json.loads(ext.value)  # type: ignore[attr-defined]
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise CertificateRefused("not an election authority certificate") from exc
    if not isinstance(data, dict) or not isinstance(data.get("election"), str):
        raise CertificateRefused("not an election authority certificate")
    return data


def make_request(signing_key: ed25519.Ed25519PrivateKey, unwrap_key: x25519.X25519PrivateKey) -> x509.CertificateSigningRequest:
    """The enrollment request: signed by the signing key, carrying the X25519 public key."""
    unwrap_raw = unwrap_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device_id = device_id_for(signing_key.public_key())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"device {device_id}")]))
        .add_extension(x509.UnrecognizedExtension(OID_REQUEST, canonical_json({"x25519": b64e(unwrap_raw)})), critical=False)
        .sign(signing_key, None)
    )


def request_keys(csr: x509.CertificateSigningRequest) -> tuple[ed25519.Ed25519PublicKey, bytes]:
    """The signing public key and X25519 public key of a request whose signature holds."""
    public = csr.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise CertificateRefused("request key is not Ed25519")
    if not csr.is_signature_valid:
        raise CertificateRefused("request signature does not verify")
    try:
        ext = csr.extensions.get_extension_for_oid(OID_REQUEST).value
        unwrap_raw = b64d(json.loads(ext.value)["x25519"])  # type: ignore[attr-defined]
        x25519.X25519PublicKey.from_public_bytes(unwrap_raw)
    except (x509.ExtensionNotFound, ValueError, KeyError, TypeError) as exc:
        raise CertificateRefused("request carries no usable X25519 key") from exc
    return public, unwrap_raw


def issue_device(
    authority_key: ed25519.Ed25519PrivateKey,
    authority_cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    role: Role,
    branches: tuple[str, ...],
) -> x509.Certificate:
    """Sign a device certificate for a verified request."""
    public, unwrap_raw = request_keys(csr)
    election = authority_election(authority_cert)
    device_id = device_id_for(public)
    claims = canonical_json({
        "device": device_id, "role": role.value, "branches": list(branches),
        "election": election["election"], "x25519": b64e(unwrap_raw),
    })
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"election {election['election']}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
            x509.NameAttribute(NameOID.COMMON_NAME, f"device {device_id}"),
        ]))
        .issuer_name(authority_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(authority_cert.not_valid_before_utc)
        .not_valid_after(authority_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.UnrecognizedExtension(OID_DEVICE, claims), critical=False)
        .sign(authority_key, None)
    )


def verify_device(cert: x509.Certificate, authority_cert: x509.Certificate) -> DeviceClaims:
    """Check that `cert` was issued by this authority for this election; return its claims."""
    election = authority_election(authority_cert)
    if cert.issuer != authority_cert.subject:
        raise CertificateRefused("certificate is from another authority")
    try:
        authority_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes)  # type: ignore[call-arg, union-attr]
    except (InvalidSignature, TypeError) as exc:
        raise CertificateRefused("certificate signature does not verify against the authority") from exc
    day = _midnight(dt.date.fromisoformat(election["day"]))
    if not cert.not_valid_before_utc <= day <= cert.not_valid_after_utc:
        raise CertificateRefused("certificate is not valid on the election day")
    claims = _claims(cert)
    if claims.election_id != election["election"]:
        raise CertificateRefused("certificate is for another election")
    public = cert.public_key()
    if not isinstance(public, ed25519.Ed25519PublicKey) or device_id_for(public) != claims.device_id:
        raise CertificateRefused("certificate key does not match its device id")
    return claims


def _claims(cert: x509.Certificate) -> DeviceClaims:
    try:
        ext = cert.extensions.get_extension_for_oid(OID_DEVICE).value
        data = json.loads(ext.value)  # type: ignore[attr-defined]
        branches = data["branches"]
        if not (isinstance(branches, list) and all(isinstance(b, str) for b in branches)):
            raise ValueError("branches")
        return DeviceClaims(
            device_id=str(data["device"]), role=Role(data["role"]), branches=tuple(branches),
            election_id=str(data["election"]), unwrap_public=b64d(data["x25519"]),
        )
    except (x509.ExtensionNotFound, ValueError, KeyError, TypeError) as exc:
        raise CertificateRefused("not a device certificate of this project") from exc


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def load_certificate(pem: bytes) -> x509.Certificate:
    """Parse a PEM certificate; CertificateRefused for anything else."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateRefused("not a PEM certificate") from exc


def cert_pem(cert: x509.Certificate) -> bytes:
    """PEM bytes of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)
