"""APDU building and response parsing shared by card profiles and the virtual card."""
from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import CardError

SW_OK = 0x9000
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_WRONG_LENGTH = 0x6700


@dataclass(frozen=True, slots=True)
class Response:
    """A response APDU: data and the two status bytes."""

    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        """Split a raw response; fewer than two bytes is a card error, not a crash."""
        if len(raw) < 2:
            raise CardError("card answered with fewer than two status bytes")
        return cls(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])

    def expect_ok(self, what: str) -> bytes:
        """The data of a 9000 response; CardError naming the step and the status word otherwise."""
        if self.sw != SW_OK:
            raise CardError(f"{what}: card answered status {self.sw:04X}")
        return self.data


def select_aid(aid: bytes) -> bytes:
    """SELECT by DF name (application id), first or only occurrence, no response data asked."""
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid


def select_file(fid: int) -> bytes:
    """SELECT by file identifier."""
    return bytes([0x00, 0xA4, 0x00, 0x0C, 0x02, fid >> 8, fid & 0xFF])


def read_binary(offset: int, length: int) -> bytes:
    """READ BINARY of `length` (1..256, 256 encoded as 00) bytes at a 15-bit offset."""
    if not 0 <= offset < 0x8000 or not 1 <= length <= 256:
        raise ValueError("read_binary out of range")
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF])


def der_length(head: bytes) -> int:
    """Total length of a DER SEQUENCE from its first bytes; CardError if it is not one."""
    if len(head) < 2 or head[0] != 0x30:
        raise CardError("certificate file does not start with a DER sequence")
    first = head[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3 or len(head) < 2 + count:
        raise CardError("certificate length is malformed or truncated")
    return 2 + count + int.from_bytes(head[2:2 + count], "big")
