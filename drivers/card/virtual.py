"""A virtual smart card: the test profile and the iran-nid layout, with ways to misbehave.

Used in-process by the fake reader and, through drivers/card/vpcd_card.py, as a
real card behind pcscd's vpcd virtual reader. It answers only what the
profiles send: SELECT by AID, SELECT by file id, READ BINARY, and the holder's
commands: VERIFY (a PIN with a retry counter that blocks after three wrong
tries and survives the card leaving the reader), MSE: SET, and PSO: COMPUTE
DIGITAL SIGNATURE and PSO: DECIPHER (ECDH) with the card's P-256 key, allowed
only after the PIN was verified since the card was powered.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from drivers.card import apdu
from drivers.card.holder import SW_PIN_BLOCKED, SW_SECURITY_NOT_SATISFIED, pin_bytes
from drivers.card.profiles import PROFILES, Profile

PIN_TRIES = 3


@dataclass
class Misbehaviour:
    """Ways a card can go wrong, switched on by tests and the demo panel."""

    delay: float = 0.0                 # seconds before every answer (slow card)
    wrong_status: int | None = None    # answer READ BINARY with this status word
    short_answer: bool = False         # answer READ BINARY with a single byte
    truncate_certificate: int | None = None  # serve only this many bytes of the certificate
    pull_after_reads: int | None = None      # the card is "pulled" after this many READ BINARY


@dataclass
class VirtualCard:
    """A card holding one certificate file in the layout of one profile."""

    profile: Profile
    certificate: bytes
    misbehave: Misbehaviour = field(default_factory=Misbehaviour)
    key: ec.EllipticCurvePrivateKey | None = None   # the holder's key (None: a card that cannot sign)
    pin: str = "1234"
    tries_left: int = PIN_TRIES
    atr: bytes = bytes.fromhex("3B8880014B494F534B30310F")
    _selected_app: bool = False
    _path: list[int] = field(default_factory=list)
    _reads: int = 0
    _verified: bool = False

    @classmethod
    def of(cls, profile_name: str, certificate: bytes, misbehave: Misbehaviour | None = None,
           key: ec.EllipticCurvePrivateKey | None = None, pin: str = "1234", tries_left: int = PIN_TRIES) -> VirtualCard:
        """A card of a named profile ("iran-nid" or "test")."""
        return cls(PROFILES[profile_name], certificate, misbehave or Misbehaviour(), key, pin, tries_left)

    def pulled(self) -> bool:
        """True once the card has "left the reader" (pull_after_reads reached)."""
        limit = self.misbehave.pull_after_reads
        return limit is not None and self._reads >= limit

    def reset(self) -> None:
        """Power cycle: forget selections and the verified PIN (the retry counter stays, as on a real card)."""
        self._selected_app, self._path, self._reads, self._verified = False, [], 0, False

    def respond(self, command: bytes) -> bytes:
        """Answer one command APDU with a response APDU."""
        if self.misbehave.delay:
            time.sleep(self.misbehave.delay)
        if len(command) < 4:
            return _sw(apdu.SW_WRONG_LENGTH)
        cla, ins, p1, p2 = command[:4]
        if cla != 0x00:
            return _sw(apdu.SW_CLA_NOT_SUPPORTED)
        if ins == 0xA4:
            return self._select(p1, command[5:5 + command[4]] if len(command) > 4 else b"")
        if ins == 0xB0:
            return self._read((p1 << 8) | p2, command[4] if len(command) > 4 else 0)
        body = command[5:5 + command[4]] if len(command) > 5 else b""
        if ins == 0x20:
            return self._verify(p2, body)
        if ins == 0x22:
            return _sw(apdu.SW_OK if self._selected_app else apdu.SW_FILE_NOT_FOUND)
        if ins == 0x2A:
            return self._operate((p1 << 8) | p2, body)
        return _sw(apdu.SW_INS_NOT_SUPPORTED)

    def _verify(self, reference: int, typed: bytes) -> bytes:
        if not self._selected_app or reference != self.profile.pin_reference:
            return _sw(0x6A88)  # referenced data not found
        if self.tries_left == 0:
            return _sw(SW_PIN_BLOCKED)
        if not typed:
            return _sw(apdu.SW_OK if self._verified else 0x63C0 | self.tries_left)
        if typed == pin_bytes(self.profile, self.pin):
            self.tries_left, self._verified = PIN_TRIES, True
            return _sw(apdu.SW_OK)
        self.tries_left -= 1
        self._verified = False
        return _sw(0x63C0 | self.tries_left)

    def _operate(self, what: int, data: bytes) -> bytes:
        if not self._selected_app:
            return _sw(0x6985)  # conditions of use not satisfied
        if not self._verified:
            return _sw(SW_SECURITY_NOT_SATISFIED)
        if self.key is None:
            return _sw(0x6A88)
        if what == 0x9E9A and len(data) == 32:
            signature = self.key.sign(data, ec.ECDSA(Prehashed(hashes.SHA256())))
            return signature + _sw(apdu.SW_OK)
        if what == 0x8086 and len(data) == 66 and data[0] == 0x00:
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[1:])
            except ValueError:
                return _sw(0x6A80)  # incorrect data
            return self.key.exchange(ec.ECDH(), peer) + _sw(apdu.SW_OK)
        return _sw(0x6A80)

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            self._selected_app = data == self.profile.aid
            self._path = []
            return _sw(apdu.SW_OK if self._selected_app else apdu.SW_FILE_NOT_FOUND)
        if p1 == 0x00 and len(data) == 2 and self._selected_app:
            fid = int.from_bytes(data, "big")
            expected = self.profile.path[len(self._path)] if len(self._path) < len(self.profile.path) else None
            if fid == expected:
                self._path.append(fid)
                return _sw(apdu.SW_OK)
        return _sw(apdu.SW_FILE_NOT_FOUND)

    def _read(self, offset: int, length: int) -> bytes:
        if self._path != list(self.profile.path):
            return _sw(0x6986)  # command not allowed: no current EF
        self._reads += 1
        m = self.misbehave
        if m.wrong_status is not None:
            return _sw(m.wrong_status)
        if m.short_answer:
            return b"\x90"
        data = self.certificate if m.truncate_certificate is None else self.certificate[:m.truncate_certificate]
        length = length or 256
        if offset >= len(data):
            return _sw(apdu.SW_WRONG_P1P2)
        return data[offset:offset + length] + _sw(apdu.SW_OK)


def _sw(status: int) -> bytes:
    return bytes([status >> 8, status & 0xFF])
