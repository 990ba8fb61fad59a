"""Staff sign-in, as the core sees it: roles and the closed set of sign-in answers."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
