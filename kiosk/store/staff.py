"""Staff accounts of one kiosk: PINs as scrypt hashes, and lock-outs that survive a reboot.

The technician sets the branch head's PIN at provisioning; the branch head,
signed in, adds poll workers (DESIGN.md, Decisions: Staff). Accounts live in
a TinyDB file with atomic writes, so a power cut never loses a lock-out.

Each account's name, salt and PIN hash are sealed to the device's data key
(kiosk.trust.sealed): a locked device can still set a PIN (the public half),
but only an unlocked one reads names or checks a PIN, so a copied file gives
neither a name nor a hash to guess PINs against offline. The account id,
role and lock-out counters stay in clear: they name no one.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.core.lockout import LockState, after_failure, tries_left
from kiosk.core.staff import (PIN_DIGITS, Granted, Locked, NoSuchAccount, PinRefused, Role, SignIn, WrongPin,
                              check_staff_name, normalise_pin)
from kiosk.core.national_code import ascii_digits_only
from kiosk.logbook import Event, log
from kiosk.store.documents import open_documents
from kiosk.trust.sealed import DataKeys, SealRefused, is_sealed_text

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


def _in_clear(record: dict[str, Any]) -> bool:
    return "sealed" not in record and all(isinstance(record.get(k), str) for k in ("name", "salt", "hash"))


def _context(account: str) -> bytes:
    return f"kiosk staff v1|{account}".encode()


class StaffBook:
    """The staff accounts of one device, sealed to its data key."""

    def __init__(self, path: Path, keys: DataKeys, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._keys = keys
        self._now = clock

    def _secret(self, record: dict[str, object]) -> dict[str, str]:
        """An account's sealed part (name, salt, hash); Locked before the unlock, SealRefused if it was tampered."""
        if _in_clear(record):
            return {k: str(record[k]) for k in ("name", "salt", "hash")}   # an earlier version's, sealed on first use
        sealed = record.get("sealed")
        if not is_sealed_text(sealed):
            raise SealRefused("staff record is not sealed")
        try:
            opened: object = json.loads(self._keys.open_text(sealed, _context(str(record["account"]))))
        except ValueError as exc:
            raise SealRefused("staff record is damaged") from exc
        if not isinstance(opened, dict) or not all(isinstance(opened.get(k), str) for k in ("name", "salt", "hash")):
            raise SealRefused("staff record is damaged")
        return {k: str(opened[k]) for k in ("name", "salt", "hash")}

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
        record = {"account": account, "role": role.value,
                  "sealed": self._sealed(account, {"name": name, "salt": salt.hex(), "hash": _hash(digits, salt).hex()}),
                  "failures": 0, "locked_until": 0.0}
        with open_documents(self._path) as db:
            table = db.table("staff")
            table.remove(lambda d: d.get("account") == account)
            table.insert(record)
        log(Event.STAFF_PIN_SET, account=account, role=role.value)

    def _sealed(self, account: str, secret: dict[str, str]) -> str:
        """An account's name, salt and hash as the file keeps them."""
        return self._keys.seal_text(json.dumps(secret), _context(account))

    def _seal_clear_records(self, table: Any) -> None:
        """Accounts an earlier version kept in clear are sealed the first time the unlocked book is used."""
        if not self._keys.unlocked:
            return
        for record in [d for d in table.all() if _in_clear(d)]:
            account = str(record["account"])
            sealed = self._sealed(account, {k: str(record[k]) for k in ("name", "salt", "hash")})

            def transform(doc: dict[str, Any], sealed: str = sealed) -> None:
                for key in ("name", "salt", "hash"):
                    doc.pop(key, None)
                doc["sealed"] = sealed
            table.update(transform, lambda d, a=account: d.get("account") == a)

    def has_accounts(self) -> bool:
        """Whether any account is set (works while the device is locked: no name is read)."""
        with open_documents(self._path) as db:
            return len(db.table("staff")) > 0

    def accounts(self) -> list[tuple[str, str, Role]]:
        """(account, name, role) of every account, for the sign-in screen (Locked before the unlock).

        A record that does not open with this device's key (tampered, or another device's file) is left out.
        """
        with open_documents(self._path) as db:
            self._seal_clear_records(db.table("staff"))
            found = []
            for d in db.table("staff").all():
                try:
                    found.append((d["account"], self._secret(d)["name"], Role(d["role"])))
                except SealRefused:
                    continue
            return found

    def sign_in(self, account: str, pin: str) -> SignIn:
        """Check a PIN, counting misses and locking the account as they grow."""
        now = self._now()
        with open_documents(self._path) as db:
            table = db.table("staff")
            self._seal_clear_records(table)
            found = [d for d in table.all() if d.get("account") == account]
            if not found:
                return NoSuchAccount()
            record = found[0]
            state = LockState(int(record["failures"]), float(record["locked_until"]))
            if state.locked(now):
                log(Event.STAFF_LOCKED_OUT, account=account, seconds=round(state.locked_until - now))
                return Locked(state.locked_until - now)
            digits = _typed_digits(pin)
            try:
                secret = self._secret(record)
            except SealRefused:
                return NoSuchAccount()
            expected = bytes.fromhex(secret["hash"])
            if digits and hmac.compare_digest(_hash(digits, bytes.fromhex(secret["salt"])), expected):
                table.update({"failures": 0, "locked_until": 0.0}, lambda d: d.get("account") == account)
                log(Event.STAFF_SIGNED_IN, account=account, role=str(record["role"]))
                return Granted(account, Role(record["role"]))
            after = after_failure(state, now)
            table.update({"failures": after.failures, "locked_until": after.locked_until},
                         lambda d: d.get("account") == account)
            log(Event.STAFF_PIN_WRONG, account=account, tries_left=tries_left(after))
            if after.locked_until > now:
                log(Event.STAFF_LOCKED_OUT, account=account, seconds=round(after.locked_until - now))
            return WrongPin(tries_left(after), max(after.locked_until - now, 0.0))

    def reset_lockout(self, account: str) -> None:
        """The branch head clears a worker's lock-out."""
        with open_documents(self._path) as db:
            db.table("staff").update({"failures": 0, "locked_until": 0.0}, lambda d: d.get("account") == account)
        log(Event.STAFF_LOCKOUT_RESET, account=account)
