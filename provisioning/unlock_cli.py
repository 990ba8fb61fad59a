"""`kiosk-provision unlock` and `lock`: the recovery-code unlock from a technician's shell.

The screens offer the same (and the head's card and the console); this is for
a device whose screen is not in use, and for the technician's own commands
(`kiosk check`, `export`) on a device the day's unlock has not reached. The
code is read hidden from the terminal or from standard input, never from the
command line.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from kiosk.state import Installed, UnlockRefused
from kiosk.trust.daykeys import RECOVERY_DIGITS, RecoveryCodeRefused


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `unlock` and `lock`."""
    unlock = sub.add_parser("unlock", help="unlock the device for the day with the recovery code of the branch's "
                                           "sealed envelope (read from the terminal or standard input)")
    unlock.add_argument("--state", type=Path, required=True)
    lock = sub.add_parser("lock", help="lock the device again (every process forgets the day's unlock)")
    lock.add_argument("--state", type=Path, required=True)


def run_unlock(args: argparse.Namespace) -> int:
    """Unlock with a typed code; StateRefused propagates (the caller prints it)."""
    installed = Installed.open(args.state)
    if not installed.locked:
        print(f"device {installed.claims.device_id[:8]} is already unlocked")
        return 0
    typed = getpass.getpass("recovery code: ") if sys.stdin.isatty() else sys.stdin.readline()
    try:
        installed.unlock_with_code(typed)
    except RecoveryCodeRefused as exc:
        mistake = (f"it has {RECOVERY_DIGITS} digits and {exc.typed_digits} were typed"
                   if exc.typed_digits != RECOVERY_DIGITS else "a digit is wrong or two are swapped")
        print(f"kiosk-provision: refused: this is not a recovery code ({mistake}): check it against the sealed "
              "envelope; nothing was tried", file=sys.stderr)
        return 1
    except UnlockRefused:
        print("kiosk-provision: refused: this recovery code is not this device's (is it another device's line "
              "on the sheet?); the device stays locked", file=sys.stderr)
        return 1
    print(f"device {installed.claims.device_id[:8]} unlocked until it restarts")
    return 0


def run_lock(args: argparse.Namespace) -> int:
    """Forget the day's unlock."""
    installed = Installed.open(args.state)
    installed.lock()
    print(f"device {installed.claims.device_id[:8]} locked")
    return 0
