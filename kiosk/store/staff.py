"""Staff accounts of one kiosk: PINs as scrypt hashes, and lock-outs that survive a reboot.

The technician sets the branch head's PIN at provisioning; the branch head,
signed in, adds poll workers (DESIGN.md, Decisions: Staff). Accounts live in
a TinyDB file with atomic writes, so a power cut never loses a lock-out.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.core.lockout import LockState, after_failure, tries_left
from kiosk.core.staff import (PIN_DIGITS, Granted, Locked, NoSuchAccount, PinRefused, Role, SignIn, WrongPin,
                              check_staff_name, normalise_pin)
from kiosk.core.national_code import ascii_digits_only
from kiosk.store.documents import open_documents

# scrypt at n=2^14, r=8: about 16 MB and tens of milliseconds per check on a Pi,
# which is what makes a stolen staff file slow to brute-force.
_N, _R, _P = 1 << 14, 8, 1
__all__ = ["PIN_DIGITS", "PinRefused", "StaffBook", "normalise_pin"]


def _typed_digits(pin: str) -> str:
    """The ASCII digits typed at sign-in, or "" for anything that cannot be a PIN (it counts as a wrong one).

    Any length up to the longest is checked against the hash: an account set before PINs had to be 6 digits
    long still signs in with its 4 digits (a new PIN must be 6 to 8; kiosk.core.staff).
    """
    digits = ascii_digits_only(pin.strip())
    return digits if digits.isascii() and digits.isdigit() and len(digits) <= PIN_DIGITS[1] else ""


def _hash(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)


class StaffBook:
    """The staff accounts of one kiosk."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._now = clock

    def set_pin(self, account: str, name: str, role: Role, pin: str) -> None:
        """Create or replace an account's PIN (and clear its lock-out).

        PinRefused for a PIN that is not 6 to 8 digits, TextRefused for a name the sign-in list cannot show on
        one line; both are ValueErrors, and nothing is written.
        """
        if not account or len(account) > 32:
            raise ValueError("account id: 1 to 32 characters")
        name = check_staff_name(name)
        digits = normalise_pin(pin)
        salt = os.urandom(16)
        record = {"account": account, "name": name, "role": role.value, "salt": salt.hex(),
                  "hash": _hash(digits, salt).hex(), "failures": 0, "locked_until": 0.0}
        with open_documents(self._path) as db:
            table = db.table("staff")
            table.remove(lambda d: d.get("account") == account)
            table.insert(record)

    def accounts(self) -> list[tuple[str, str, Role]]:
        """(account, name, role) of every account, for the sign-in screen."""
        with open_documents(self._path) as db:
            return [(d["account"], d["name"], Role(d["role"])) for d in db.table("staff").all()]

    def sign_in(self, account: str, pin: str) -> SignIn:
        """Check a PIN, counting misses and locking the account as they grow."""
        now = self._now()
        with open_documents(self._path) as db:
            table = db.table("staff")
            found = [d for d in table.all() if d.get("account") == account]
            if not found:
                return NoSuchAccount()
            record = found[0]
            state = LockState(int(record["failures"]), float(record["locked_until"]))
            if state.locked(now):
                return Locked(state.locked_until - now)
            digits = _typed_digits(pin)
            expected = bytes.fromhex(record["hash"])
            if digits and hmac.compare_digest(_hash(digits, bytes.fromhex(record["salt"])), expected):
                table.update({"failures": 0, "locked_until": 0.0}, lambda d: d.get("account") == account)
                return Granted(account, Role(record["role"]))
            after = after_failure(state, now)
            table.update({"failures": after.failures, "locked_until": after.locked_until},
                         lambda d: d.get("account") == account)
            return WrongPin(tries_left(after), max(after.locked_until - now, 0.0))

    def reset_lockout(self, account: str) -> None:
        """The branch head clears a worker's lock-out."""
        with open_documents(self._path) as db:
            db.table("staff").update({"failures": 0, "locked_until": 0.0}, lambda d: d.get("account") == account)
