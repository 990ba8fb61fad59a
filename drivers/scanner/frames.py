"""Bytes from a scanner → frames → scan results: pure and thread-free, shared by the real and fake scanner."""
from __future__ import annotations

import re
import unicodedata
from typing import assert_never

from kiosk.core.national_code import CodeProblem, InvalidCode, parse_national_code, to_ascii_digits

from .events import ScanProblem, ScanResult, Scanned, Unusable

DEFAULT_TERMINATORS = b"\r\n"
DEFAULT_MAX_FRAME = 64

# AIM symbology identifier (ISO/IEC 15424), the vendor-neutral prefix a scanner adds when
# told to: "]" + one symbology letter (C = Code 128, A = Code 39, I = ITF, Q = QR, L = PDF417,
# d = Data Matrix, E = EAN/UPC …) + one modifier, a digit or, for sums above 9, a letter.
# A national code never starts with "]", so stripping it cannot turn other text into a code.
_AIM_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")

# Vendor one-character "Code ID" prefixes. The vendors' tables disagree ("b" is Code 39 for
# Honeywell but Interleaved 2 of 5 for Allen-Bradley; "D" is EAN-8 for Honeywell but Code 128
# for Zebra), so only letters that mean a symbology able to carry a national code are taken:
# Honeywell j (Code 128), b (Code 39), e (ITF), Q (QR), r (PDF417), w (Data Matrix); Zebra/Symbol
# D (Code 128), B (Code 39), F (ITF). Even then only before exactly ten digits and nothing else,
# since such a letter may also be the first character of some other label ("B1234…").
_CODE_IDS = frozenset("jbeQrwDBF")

_ASCII_DIGITS = frozenset("0123456789")


def _is_garbage(text: str) -> bool:
    """True for text no scanner of printed labels sends: undecodable bytes or control characters."""
    # Tabs and spaces are separators a person might print between digit groups; the rest of Cc
    # (NUL, ESC, GS …) are line noise, a wrong baud rate, or a GS1 structure that is not a code.
    return any(c == "\ufffd" or (c != "\t" and unicodedata.category(c) == "Cc") for c in text)


def _strip_prefix(text: str) -> str:
    """The payload without an AIM identifier or a vendor Code ID, when one is present."""
    if _AIM_ID.match(text):
        return text[3:]
    if text[:1] in _CODE_IDS:
        rest = to_ascii_digits(text[1:])
        if len(rest) == 10 and _ASCII_DIGITS.issuperset(rest):
            return text[1:]
    return text


def _from_code_problem(problem: CodeProblem) -> ScanProblem:
    """The scan reason for a refusal from the national-code rules."""
    match problem:
        case CodeProblem.EMPTY | CodeProblem.NOT_DIGITS:
            return ScanProblem.NOT_A_NATIONAL_CODE
        case CodeProblem.WRONG_LENGTH:
            return ScanProblem.WRONG_LENGTH
        case CodeProblem.BAD_CHECKSUM:
            return ScanProblem.INVALID_CHECKSUM
        case CodeProblem.REPEATED_DIGIT | CodeProblem.ZERO_SERIAL:
            return ScanProblem.INVALID_CODE
        case _:
            assert_never(problem)


def interpret(frame: bytes) -> ScanResult:
    """One frame (terminator removed) as a national code, or the reason it is not one.

    The payload must be the code and nothing else, in any digit script, with spaces or dashes
    allowed between digits; digits are never fished out of longer text such as a URL.
    """
    text = frame.decode("utf-8", errors="replace")
    if _is_garbage(text):
        return Unusable(ScanProblem.GARBAGE)
    digits = to_ascii_digits(_strip_prefix(text))
    if not digits or not _ASCII_DIGITS.issuperset(digits):
        return Unusable(ScanProblem.NOT_A_NATIONAL_CODE)
    # Exactly ten: a scanner reads what was printed, and an 8- or 9-digit label (EAN-8, say)
    # is another barcode, not a code whose leading zeros someone dropped while typing.
    if len(digits) != 10:
        return Unusable(ScanProblem.WRONG_LENGTH)
    parsed = parse_national_code(digits)
    if isinstance(parsed, InvalidCode):
        return Unusable(_from_code_problem(parsed.problem))
    return Scanned(parsed)


class FrameParser:
    """Splits a byte stream into terminated frames and interprets each; keeps the partial frame between feeds."""

    def __init__(self, terminators: bytes = DEFAULT_TERMINATORS, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if not terminators:
            raise ValueError("at least one terminator byte is needed")
        if max_frame < 10:
            raise ValueError("max_frame must leave room for a ten-digit code")
        self._terminators = frozenset(terminators)
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._discarding = False

    def reset(self) -> None:
        """Forget a partial frame, e.g. after an unplug: its rest will never come."""
        self._buffer.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[ScanResult]:
        """Results for the frames that `data` completes, in order.

        Every terminator byte ends a frame and empty frames are dropped, so CRLF counts once
        even when split across reads. A frame that grows past max_frame is reported at once as
        TOO_LONG and the rest of it, up to the next terminator, discarded.
        """
        results: list[ScanResult] = []
        for byte in data:
            if byte in self._terminators:
                if self._buffer and not self._discarding:
                    results.append(interpret(bytes(self._buffer)))
                self.reset()
            elif self._discarding:
                continue
            elif len(self._buffer) >= self._max_frame:
                results.append(Unusable(ScanProblem.TOO_LONG))
                self._buffer.clear()
                self._discarding = True
            else:
                self._buffer.append(byte)
        return results
