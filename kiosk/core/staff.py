"""Staff sign-in, as the core sees it: roles, the closed set of sign-in answers, and what a new PIN must be."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kiosk.core.national_code import ascii_digits_only
from kiosk.core.text_limits import MAX_STAFF_NAME, check_text

# Six digits at least: a copied staff.json must not fall to an offline guess of every 4-digit PIN in a minute
# (scrypt makes each guess cost tens of milliseconds; 10^6 of them take hours, 10^8 days).
PIN_DIGITS = (6, 8)


class Role(Enum):
    """What an account may do: only the head undoes check-ins, resets lock-outs, closes the polls."""

    HEAD = "head"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Granted:
    """Signed in."""

    account: str
    role: Role


@dataclass(frozen=True, slots=True)
class WrongPin:
    """The PIN was wrong; how many more tries before the account locks."""

    tries_left: int
    locked_for: float


@dataclass(frozen=True, slots=True)
class Locked:
    """Sign-in refused without checking the PIN, for this many more seconds."""

    seconds: float


@dataclass(frozen=True, slots=True)
class NoSuchAccount:
    """The account does not exist."""


SignIn = Granted | WrongPin | Locked | NoSuchAccount


class CardOutcome(Enum):
    """What came of an official's card sign-in (kiosk.official_card), in the core's words."""

    GRANTED = "granted"
    PIN_WRONG = "card_pin_wrong"       # the card refused the PIN; `tries_left` more before it blocks
    BLOCKED = "card_blocked"
    REFUSED = "card_refused"           # not trusted, not this branch's official, or not the certificate's key
    NO_CARD = "card_none"
    UNREADABLE = "card_unreadable"
    PIN_SHORT = "card_pin_short"       # not 4 to 12 digits: the card was not asked


@dataclass(frozen=True, slots=True)
class CardSignIn:
    """An official's card sign-in: granted to `account` (the roster's id), or why not."""

    outcome: CardOutcome
    account: str = ""
    tries_left: int = 0


class PinRefused(ValueError):
    """A new PIN that is not 6 to 8 digits."""


def normalise_pin(pin: str) -> str:
    """ASCII digits of a new PIN typed in any digit script; PinRefused if it is not 6 to 8 digits."""
    digits = ascii_digits_only(pin.strip())
    if not (digits.isascii() and digits.isdigit() and PIN_DIGITS[0] <= len(digits) <= PIN_DIGITS[1]):
        raise PinRefused(f"a PIN is {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits")
    return digits


def check_staff_name(name: str) -> str:
    """A staff member's name as the sign-in list shows it (stripped); TextRefused if empty, too long or not one line."""
    return check_text(name.strip(), "the name", MAX_STAFF_NAME, required=True)
