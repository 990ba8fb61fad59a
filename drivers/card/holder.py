"""The card holder's commands: the PIN the card verifies itself, and the card's private-key operations.

A card proves an official is present only by what its private key does, and
only after the card itself accepted the PIN: the device never sees or keeps
the PIN beyond the one VERIFY. Answers are a closed set, so a screen can say
"2 tries left" or "this card is blocked" without parsing status words.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers.card import apdu
from drivers.card.profiles import Profile, Transmit
from drivers.errors import CardError

SW_SECURITY_NOT_SATISFIED = 0x6982
SW_PIN_BLOCKED = 0x6983
MIN_PIN, MAX_PIN = 4, 12


@dataclass(frozen=True, slots=True)
class PinAccepted:
    """The card accepted the PIN: its key may be used until the card leaves the reader."""


@dataclass(frozen=True, slots=True)
class PinWrong:
    """The card refused the PIN; it blocks after `tries_left` more wrong ones (0: it is now blocked)."""

    tries_left: int


@dataclass(frozen=True, slots=True)
class PinBlocked:
    """The card's PIN is blocked; only the issuing office can unblock it."""


PinAnswer = PinAccepted | PinWrong | PinBlocked


class PinRefused(ValueError):
    """A typed PIN the card would not even be asked about (not 4 to 12 digits)."""


def pin_bytes(profile: Profile, pin: str) -> bytes:
    """The PIN as the profile sends it; PinRefused for anything but 4 to 12 ASCII digits."""
    if not (pin.isascii() and pin.isdigit() and MIN_PIN <= len(pin) <= MAX_PIN):
        raise PinRefused(f"a card PIN is {MIN_PIN} to {MAX_PIN} digits")
    raw = pin.encode("ascii")
    if profile.pin_padded_to is not None:
        if len(raw) > profile.pin_padded_to:
            raise PinRefused(f"this card's PIN is at most {profile.pin_padded_to} digits")
        raw = raw.ljust(profile.pin_padded_to, b"\xff")
    return raw


def verify_command(profile: Profile, pin: bytes = b"") -> bytes:
    """VERIFY with the profile's PIN reference; without data it asks only how many tries are left."""
    head = bytes([0x00, 0x20, 0x00, profile.pin_reference])
    return head + (bytes([len(pin)]) + pin if pin else b"")


def _answer(response: apdu.Response) -> PinAnswer:
    if response.sw == apdu.SW_OK:
        return PinAccepted()
    if response.sw == SW_PIN_BLOCKED:
        return PinBlocked()
    if response.sw & 0xFFF0 == 0x63C0:
        left = response.sw & 0x0F
        return PinWrong(left) if left else PinBlocked()
    raise CardError(f"PIN check: card answered status {response.sw:04X}")


def pin_tries(transmit: Transmit, profile: Profile) -> PinAnswer:
    """Ask, without trying a PIN, whether the card is blocked and how many tries it has left.

    PinWrong(n) here means "n tries left"; PinAccepted that the PIN is already verified.
    Like verify_pin, it works in the application `select_application` (or a certificate read) selected.
    """
    return _answer(apdu.Response.parse(transmit(verify_command(profile))))


def verify_pin(transmit: Transmit, profile: Profile, pin: str) -> PinAnswer:
    """Let the card check the PIN; the card counts the tries and blocks itself."""
    raw = pin_bytes(profile, pin)
    return _answer(apdu.Response.parse(transmit(verify_command(profile, raw))))


def sign_digest(transmit: Transmit, profile: Profile, digest: bytes) -> bytes:
    """PSO: COMPUTE DIGITAL SIGNATURE over a SHA-256 digest (the PIN must be verified first)."""
    if len(digest) != 32:
        raise ValueError("the card signs a 32-byte SHA-256 digest")
    _select_key(transmit, profile)
    return _private_key_answer(transmit(bytes([0x00, 0x2A, 0x9E, 0x9A, 32]) + digest + b"\x00"), "signature")


def agree_key(transmit: Transmit, profile: Profile, peer_point: bytes) -> bytes:
    """PSO: DECIPHER as ECDH: the shared secret of the card's key and an uncompressed peer point."""
    if len(peer_point) != 65 or peer_point[0] != 0x04:
        raise ValueError("the peer key is an uncompressed P-256 point")
    _select_key(transmit, profile)
    command = bytes([0x00, 0x2A, 0x80, 0x86, 1 + len(peer_point), 0x00]) + peer_point + b"\x00"
    return _private_key_answer(transmit(command), "key agreement")


def _private_key_answer(raw: bytes, what: str) -> bytes:
    response = apdu.Response.parse(raw)
    if response.sw == SW_SECURITY_NOT_SATISFIED:
        raise CardError(f"{what}: the card wants its PIN first")
    data = response.expect_ok(what)
    if not data:
        raise CardError(f"{what}: the card answered with no data")
    return data


def select_application(transmit: Transmit, profile: Profile) -> None:
    """Select the profile's application (a certificate read leaves it selected too)."""
    apdu.Response.parse(transmit(apdu.select_aid(profile.aid))).expect_ok("select application")


def _select_key(transmit: Transmit, profile: Profile) -> None:
    if profile.select_key is not None:
        apdu.Response.parse(transmit(profile.select_key)).expect_ok("select the signature key")
