"""`kiosk-provision unlock` and `lock`: the recovery-code unlock from a technician's shell.

The screens offer the same (and the head's card and the console); this is for
a device whose screen is not in use, and for the technician's own commands
(`kiosk check`, `export`) on a device the day's unlock has not reached. The
code, or with `--card` the card's PIN, is read hidden from the terminal or
from standard input, never from the command line.
"""
from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from drivers.card.holder import PinRefused
from drivers.card.pcsc import PcscReader
from drivers.card.profiles import PROFILES
from drivers.card.reader import ReaderStatus
from drivers.errors import DriverError
from kiosk import official_card
from kiosk.state import Installed, UnlockRefused
from kiosk.trust.daykeys import RECOVERY_DIGITS, RecoveryCodeRefused


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `unlock` and `lock`."""
    unlock = sub.add_parser("unlock", help="unlock the device for the day with the recovery code of the branch's "
                                           "sealed envelope (read from the terminal or standard input)")
    unlock.add_argument("--state", type=Path, required=True)
    unlock.add_argument("--card", action="store_true",
                        help="unlock with the branch head's card (a rep's for a console): insert it, then type its "
                             "PIN; the card checks the PIN itself")
    unlock.add_argument("--reader", help="prefer the PC/SC reader whose name contains this")
    unlock.add_argument("--profile", choices=sorted(PROFILES), default="iran-nid", help="the card's profile")
    unlock.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the card")
    lock = sub.add_parser("lock", help="lock the device again (every process forgets the day's unlock)")
    lock.add_argument("--state", type=Path, required=True)


def run_unlock(args: argparse.Namespace) -> int:
    """Unlock with a typed code; StateRefused propagates (the caller prints it)."""
    installed = Installed.open(args.state)
    if not installed.locked:
        print(f"device {installed.claims.device_id[:8]} is already unlocked")
        return 0
    if args.card:
        return _unlock_with_card(args, installed)
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


def _unlock_with_card(args: argparse.Namespace, installed: Installed) -> int:
    reader = PcscReader(prefer=args.reader)
    try:
        deadline = time.monotonic() + args.wait
        while reader.status() is not ReaderStatus.CARD_PRESENT:
            if time.monotonic() > deadline:
                print(f"kiosk-provision: no card in the reader ({reader.status().value}); the device stays locked",
                      file=sys.stderr)
                return 1
            time.sleep(0.05)
        pin = getpass.getpass("card PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        answer = official_card.unlock(installed, reader.transmit, PROFILES[args.profile], pin)
    except PinRefused as exc:
        print(f"kiosk-provision: refused: {exc}; the card was not asked", file=sys.stderr)
        return 1
    except DriverError as exc:
        print(f"kiosk-provision: the card could not be read ({exc}); the device stays locked", file=sys.stderr)
        return 1
    finally:
        reader.close()
    match answer:
        case official_card.CardSignedIn(official=official):
            print(f"device {installed.claims.device_id[:8]} unlocked by {official.account} until it restarts")
            return 0
        case official_card.CardPinWrong(tries_left=left):
            print(f"kiosk-provision: refused: wrong PIN; the card blocks after {left} more wrong "
                  f"{'try' if left == 1 else 'tries'}", file=sys.stderr)
        case official_card.CardPinBlocked():
            print("kiosk-provision: refused: this card's PIN is blocked (the civil-registration office unblocks it)",
                  file=sys.stderr)
        case official_card.CardRefused(reason=reason):
            print(f"kiosk-provision: refused: {reason}; the device stays locked", file=sys.stderr)
    return 1


def run_lock(args: argparse.Namespace) -> int:
    """Forget the day's unlock."""
    installed = Installed.open(args.state)
    installed.lock()
    print(f"device {installed.claims.device_id[:8]} locked")
    return 0
