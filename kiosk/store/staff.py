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
from kiosk.core.staff import Granted, Locked, NoSuchAccount, Role, SignIn, WrongPin
from kiosk.core.national_code import ascii_digits_only
from kiosk.store.documents import open_documents

# scrypt at n=2^14, r=8: about 16 MB and tens of milliseconds per check on a Pi,
# which is what makes a stolen staff file slow to brute-force.
_N, _R, _P = 1 << 14, 8, 1
PIN_DIGITS = (4, 8)


class PinRefused(ValueError):
    """A PIN that is not 4 to 8 digits."""


def normalise_pin(pin: str) -> str:
    """ASCII digits of a PIN typed in any digit script; PinRefused if it is not 4–8 digits."""
    digits = ascii_digits_only(pin.strip())
    if not (digits.isascii() and digits.isdigit() and PIN_DIGITS[0] <= len(digits) <= PIN_DIGITS[1]):
        raise PinRefused("a PIN is 4 to 8 digits")
    return digits


def _hash(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)


class StaffBook:
    """The staff accounts of one kiosk."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._now = clock

    def set_pin(self, account: str, name: str, role: Role, pin: str) -> None:
        """Create or replace an account's PIN (and clear its lock-out)."""
        if not account or len(account) > 32:
            raise ValueError("account id: 1 to 32 characters")
        salt = os.urandom(16)
        record = {"account": account, "name": name, "role": role.value, "salt": salt.hex(),
                  "hash": _hash(normalise_pin(pin), salt).hex(), "failures": 0, "locked_until": 0.0}
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
            try:
                digits = normalise_pin(pin)
            except PinRefused:
                digits = ""
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
