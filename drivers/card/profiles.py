"""Card profiles: which application and file hold the card's certificate, and how to read it.

`iran-nid` follows the publicly documented layout of the Iranian smart national
card (DESIGN.md): the signature applet A0000000180C000001634200, certificate
file 3F00/5100/5040, readable without a PIN. That layout comes from public
reverse-engineering reports, not from a specification: it is data here, so a
correction is a one-line change. `test` is this project's own layout for the
fake and virtual cards: application F04B494F534B54 ("\\xF0KIOSKT"), one
certificate file 0001. In both, the national code is the subject's
serialNumber attribute of the card certificate.

The holder's commands (drivers/card/holder.py) are ISO 7816-4/-8 ones: VERIFY
with the profile's PIN reference, PSO: COMPUTE DIGITAL SIGNATURE over a SHA-256
digest, PSO: DECIPHER for key agreement. For `test` they are exactly what the
virtual card answers. For `iran-nid` the PIN reference, PIN padding and the
MSE: SET that picks the signature key come from public reports and have NOT
been tried on a real card: correct them here once someone has.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from drivers.card import apdu
from drivers.errors import CardError
from kiosk.core.national_code import parse_national_code

READ_CHUNK = 0xE0
MAX_CERTIFICATE = 8192

Transmit = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Profile:
    """Where a card keeps its certificate."""

    name: str
    aid: bytes
    path: tuple[int, ...]
    pin_reference: int = 0x81             # P2 of VERIFY
    pin_padded_to: int | None = None      # PIN bytes padded with FF to this length (None: as typed)
    select_key: bytes | None = None       # MSE: SET sent before signing or key agreement, if the card wants one
    holder_commands_checked: bool = False  # against the card they describe (the test card: yes)


PROFILES = {
    "iran-nid": Profile("iran-nid", bytes.fromhex("A0000000180C000001634200"), (0x3F00, 0x5100, 0x5040),
                        pin_reference=0x81, pin_padded_to=8,
                        select_key=bytes.fromhex("002241B6038401" "01")),
    "test": Profile("test", bytes.fromhex("F04B494F534B54"), (0x0001,), pin_reference=0x81,
                    holder_commands_checked=True),
}


@dataclass(frozen=True, slots=True)
class CardRead:
    """What a card read yields: the code, the certificate, and whether it chains to the election's anchors."""

    national_code: str
    certificate: x509.Certificate
    trusted: bool
    trust_problem: str | None = None


def read_certificate(transmit: Transmit, profile: Profile) -> bytes:
    """Select the profile's file and read the whole DER certificate; CardError on any odd answer."""
    apdu.Response.parse(transmit(apdu.select_aid(profile.aid))).expect_ok("select application")
    for fid in profile.path:
        apdu.Response.parse(transmit(apdu.select_file(fid))).expect_ok(f"select file {fid:04X}")
    data = b""
    total: int | None = None
    while total is None or len(data) < total:
        want = READ_CHUNK if total is None else min(READ_CHUNK, total - len(data))
        chunk = apdu.Response.parse(transmit(apdu.read_binary(len(data), want))).expect_ok("read certificate")
        if not chunk:
            raise CardError("card returned an empty read: certificate truncated")
        data += chunk
        if total is None:
            total = apdu.der_length(data)
            if total > MAX_CERTIFICATE:
                raise CardError("certificate length is implausible")
        elif len(chunk) < want and len(data) < total:
            raise CardError("card returned a short read: certificate truncated")
    return data[:total]


def parse_card_certificate(der: bytes) -> tuple[str, x509.Certificate]:
    """The national code and the certificate; CardError for a certificate that is not usable."""
    try:
        cert = x509.load_der_x509_certificate(der)
        attributes = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    except ValueError as exc:
        raise CardError("card certificate is not valid X.509") from exc
    if len(attributes) != 1:
        raise CardError("card certificate carries no national code")
    code = parse_national_code(str(attributes[0].value))
    if not isinstance(code, str):
        raise CardError("card certificate carries an invalid national code")
    return code, cert


def check_chain(cert: x509.Certificate, anchors: Sequence[x509.Certificate], on: dt.date) -> str | None:
    """None when an anchor directly issued `cert` and it is valid on `on`; otherwise why not."""
    issuers = [a for a in anchors if a.subject == cert.issuer]
    if not issuers:
        return "issuer is not among the election's card trust anchors"
    for issuer in issuers:
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        moment = dt.datetime(on.year, on.month, on.day, 12, tzinfo=dt.timezone.utc)
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            return "certificate is not valid on the election day"
        return None
    return "signature does not verify against the trust anchor"


def read_card(transmit: Transmit, profile: Profile, anchors: Sequence[x509.Certificate], on: dt.date) -> CardRead:
    """Read and judge one card: the code it carries and whether its certificate is trusted."""
    code, cert = parse_card_certificate(read_certificate(transmit, profile))
    problem = check_chain(cert, anchors, on)
    return CardRead(code, cert, problem is None, problem)
