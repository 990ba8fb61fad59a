"""The `kiosk` command: look up and check in voters, and verify the ledger, from a shell."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sqlite3
import sys
from pathlib import Path

from kiosk import hw_cli
from kiosk.core.outcome import CheckedIn, Recorded
from kiosk.desk import Desk
from kiosk.logbook import Event, configure, log
from kiosk.state import CURRENT, Installed, Part, StateRefused, recheck_installed
from kiosk.store.ledger import LedgerCorrupt, verify_chain
from kiosk.store.registry import RegistryError
from kiosk.trust.certs import Role

MAX_SEQ = 2**63 - 1   # SQLite's largest integer: no ledger entry can carry a larger number
_LOW_SPACE = 1 << 20  # below this much free space a failed write is put down to a full disk

# What a console says to each command only a kiosk runs.
_KIOSK_ONLY = {
    "check": "voters are looked up on the kiosks, which hold the branch's check-ins",
    "checkin": "check-ins are recorded on kiosks",
    "undo": "a check-in is undone on the kiosk that recorded it",
    "ledger": "it keeps no ledger (its case book travels in its export)",
    "app": "start it with kiosk-rep",
}


class _NoCode(Exception):
    """No national code arrived on standard input."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Polling-branch kiosk")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="print the verdict for a national code as JSON")
    checkin = sub.add_parser("checkin", help="check an eligible voter in (durable before it returns)")
    for p in (check, checkin):
        p.add_argument("--state", type=Path, required=True, help="the device's state folder")
        p.add_argument("code", nargs="?", default="-",
                       help="national code (digits, spaces and dashes); '-' or none: read it from standard "
                            "input, so ps never shows it")
    undo = sub.add_parser("undo", help="cancel a check-in, with a reason (kept in the ledger)")
    undo.add_argument("--state", type=Path, required=True)
    undo.add_argument("--seq", type=int, required=True, help="sequence number of the check-in")
    undo.add_argument("--device", help="device of the check-in (default: this one)")
    undo.add_argument("--reason", required=True)
    ledger = sub.add_parser("ledger", help="ledger tools")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_sub.add_parser("verify", help="check chain and signatures; print counts")
    verify.add_argument("--state", type=Path, required=True)
    hw_cli.add_parser(sub)
    app = sub.add_parser("app", help="start the touchscreen app")
    app.add_argument("--state", type=Path, required=True)
    app.add_argument("--simulate", action="store_true", help="fake card reader with a developer panel")
    app.add_argument("--lang", choices=["fa", "en"], default="fa")
    app.add_argument("--demo-codes", type=Path, help="JSON {kind: national code} for the developer panel")
    app.add_argument("--demo-head-card", type=Path, metavar="DIR",
                     help="with --simulate: a folder with the branch head's virtual card (head.der, head.key) for "
                          "the locked screen's developer panel (made by ./dev demo; never a real card's key)")
    app.add_argument("--scanner", help="serial port of a USB-CDC barcode scanner (a keyboard-mode one needs none)")
    app.add_argument("--printer", help="serial port of the ESC/POS receipt printer")
    app.add_argument("--scanner-baud", type=int, default=9600)
    app.add_argument("--printer-baud", type=int, default=9600)
    app.add_argument("--reader", help="use the first PC/SC reader whose name contains this (default: the first)")
    app.add_argument("--sync-port", type=int, default=0,
                     help="TCP port the other kiosks of the branch dial (default: any free one; fix it for a firewall)")
    app.add_argument("--lan", action="append", metavar="ADDRESS",
                     help="find the representative's console only on the interface with this IPv4 address "
                          "(repeatable; default: every interface)")
    app.add_argument("--max-skew-minutes", type=float, default=2.0,
                     help="warn staff when this kiosk's clock is further than this from the console's (default 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kiosk`; exit 0 on success, 1 on a refusal, 2 on bad usage."""
    previous = os.umask(0o077)   # ledger, audit log, exports: nothing this command writes is for other users
    try:
        return _main(_parser().parse_args(argv))
    finally:
        os.umask(previous)


def _main(args: argparse.Namespace) -> int:
    configure(getattr(args, "state", None))
    if args.command == "hw":
        return hw_cli.run(args)
    if args.command == "app":
        return _app(args)
    if args.command == "undo" and args.seq < 1:
        print("kiosk: --seq must be 1 or more: the check-in's number, as kiosk checkin printed it", file=sys.stderr)
        return 2
    try:
        installed = Installed.open(args.state)
        if installed.claims.role is Role.REP:
            raise StateRefused(f"this device is the representative's console; {_KIOSK_ONLY[args.command]}")
        match args.command:
            case "check" | "checkin":
                return _check(installed, _code(args.code), args.command == "checkin")
            case "undo":
                return _undo(installed, args.device or installed.claims.device_id, args.seq, args.reason)
            case "ledger":
                return _verify(installed)
    except (StateRefused, RegistryError, LedgerCorrupt) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    except _NoCode:
        print("kiosk: no national code given: type it when asked, or pipe it in "
              "(echo CODE | kiosk check --state STATE -)", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


def _app(args: argparse.Namespace) -> int:
    """The touchscreen app, on a kiosk only (a changed file is the app's own stop screen, so it is not judged here)."""
    if (args.state / CURRENT).is_dir() and recheck_installed(args.state / CURRENT, Part.SMALL) is None:
        try:
            if Installed.open(args.state).claims.role is Role.REP:
                print(f"kiosk: this device is the representative's console; {_KIOSK_ONLY['app']}", file=sys.stderr)
                return 1
        except StateRefused:
            pass   # the app says what is wrong with the state folder
    from kiosk.ui import run as ui_run  # Kivy is imported only for the app
    try:
        head_card = ui_run.demo_head_card(args.demo_head_card) if args.simulate and args.demo_head_card else None
        return ui_run.main(args.state, args.simulate, args.lang, args.demo_codes, head_card=head_card,
                           scanner_port=args.scanner,
                           printer_port=args.printer, scanner_baud=args.scanner_baud,
                           printer_baud=args.printer_baud, reader_name=args.reader, lan=args.lan,
                           max_skew_minutes=args.max_skew_minutes, sync_port=args.sync_port)
    except StateRefused as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1


def _code(given: str) -> str:
    """The code as given, or for '-' one line of standard input (asked without echo at a terminal)."""
    if given != "-":
        return given
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            code = getpass.getpass("national code: ")
        else:
            code = sys.stdin.readline() if sys.stdin is not None else ""
    except (EOFError, KeyboardInterrupt):
        code = ""
    if not code.strip():
        raise _NoCode()
    return code.strip()


def _disk_problem(state: Path, exc: Exception) -> str:
    """Why a write to the state folder failed, and what to do, for the technician."""
    try:
        disk = os.statvfs(state)
    except OSError:
        return f"the state folder cannot be written ({exc}); run kiosk-provision selftest"
    free = (disk.f_bfree if os.geteuid() == 0 else disk.f_bavail) * disk.f_frsize
    if disk.f_flag & os.ST_RDONLY:
        return ("the state disk is read-only (a worn SD card turns read-only); nothing was written; "
                "use another kiosk and have this one's storage replaced")
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or free < _LOW_SPACE:
        return "the state disk is full; nothing was written; free space on it and run the command again"
    return f"the ledger cannot be written ({exc}); nothing was written; run kiosk-provision selftest"


def _check(installed: Installed, code: str, record: bool) -> int:
    """A look-up opens the ledger read-only, so it works on a full or read-only disk."""
    registry = installed.open_registry()
    try:
        ledger = installed.open_ledger(read_only=not record)
    except (sqlite3.Error, OSError) as exc:
        registry.close()
        if not record:
            print(f"kiosk: the ledger cannot be read ({exc}); free space on the state disk and look again",
                  file=sys.stderr)
            return 1
        print(f"kiosk: check-in not recorded: {_disk_problem(installed.state, exc)}", file=sys.stderr)
        return 1
    try:
        desk = Desk(registry, ledger, installed.config.rules)
        if not record:
            print(json.dumps(desk.check(code).to_json(), ensure_ascii=False))
            return 0
        try:
            result = desk.check_in(code)
        except (sqlite3.Error, OSError) as exc:
            print(f"kiosk: check-in not recorded: {_disk_problem(installed.state, exc)}", file=sys.stderr)
            return 1
        if isinstance(result, CheckedIn):
            print(json.dumps({**result.outcome.to_json(), "recorded": {"seq": result.recorded.seq,
                                                                       "at": result.recorded.wall}},
                             ensure_ascii=False))
            return 0
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 1
    finally:
        registry.close()
        ledger.close()


def _undo(installed: Installed, device: str, seq: int, reason: str) -> int:
    if seq > MAX_SEQ:
        print("kiosk: undo refused: no such check-in (--seq is the number kiosk checkin printed)", file=sys.stderr)
        return 1
    try:
        ledger = installed.open_ledger()
        try:
            result = ledger.undo(device, seq, reason)
        finally:
            ledger.close()
    except (sqlite3.Error, OSError) as exc:
        print(f"kiosk: undo not recorded: {_disk_problem(installed.state, exc)}", file=sys.stderr)
        return 1
    if isinstance(result, Recorded):
        log(Event.CHECK_IN_UNDONE, seq=result.seq, undone=f"{device}:{seq}")
        print(json.dumps({"undone": f"{device}:{seq}", "seq": result.seq, "at": result.wall}))
        return 0
    print(f"kiosk: undo refused: {result.reason}", file=sys.stderr)
    return 1


def _verify(installed: Installed) -> int:
    """Reads only: works on a full disk and on a read-only one."""
    try:
        ledger = installed.open_ledger(read_only=True)
        try:
            counts = verify_chain(ledger.events(installed.claims.device_id), installed.config.id,
                                  installed.claims.device_id, installed.device_public_key())
        finally:
            ledger.close()
    except LedgerCorrupt as exc:
        log(Event.LEDGER_CORRUPT, reason=str(exc))
        print(f"kiosk: LEDGER VERIFICATION FAILED: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(f"kiosk: the ledger cannot be read ({exc}); free space on the state disk and verify again",
              file=sys.stderr)
        return 1
    log(Event.LEDGER_VERIFIED, events=counts.events)
    print(json.dumps({"ok": True, "events": counts.events, "check_ins": counts.check_ins,
                      "undos": counts.undos, "live_check_ins": counts.live_check_ins,
                      "decisions": counts.decisions, "head": counts.head}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
