"""The `kiosk` command: look up and check in voters, and verify the ledger, from a shell."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk import hw_cli
from kiosk.core.outcome import CheckedIn, Recorded
from kiosk.desk import Desk
from kiosk.logbook import Event, configure, log
from kiosk.state import Installed, StateRefused
from kiosk.store.ledger import LedgerCorrupt, verify_chain
from kiosk.store.registry import RegistryError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Polling-branch kiosk")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="print the verdict for a national code as JSON")
    checkin = sub.add_parser("checkin", help="check an eligible voter in (durable before it returns)")
    for p in (check, checkin):
        p.add_argument("--state", type=Path, required=True, help="the device's state folder")
        p.add_argument("code", help="national code, any digits, spaces and dashes allowed")
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
    args = _parser().parse_args(argv)
    configure(getattr(args, "state", None))
    if args.command == "hw":
        return hw_cli.run(args)
    if args.command == "app":
        from kiosk.ui import run as ui_run  # Kivy is imported only for the app
        try:
            return ui_run.main(args.state, args.simulate, args.lang, args.demo_codes, scanner_port=args.scanner,
                               printer_port=args.printer, scanner_baud=args.scanner_baud,
                               printer_baud=args.printer_baud, reader_name=args.reader, lan=args.lan,
                               max_skew_minutes=args.max_skew_minutes, sync_port=args.sync_port)
        except StateRefused as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 1
    try:
        installed = Installed.open(args.state)
        match args.command:
            case "check" | "checkin":
                return _check(installed, args.code, args.command == "checkin")
            case "undo":
                return _undo(installed, args.device or installed.claims.device_id, args.seq, args.reason)
            case "ledger":
                return _verify(installed)
    except (StateRefused, RegistryError, LedgerCorrupt) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    raise AssertionError(args.command)


def _check(installed: Installed, code: str, record: bool) -> int:
    registry, ledger = installed.open_registry(), installed.open_ledger()
    try:
        desk = Desk(registry, ledger, installed.config.rules)
        if not record:
            print(json.dumps(desk.check(code).to_json(), ensure_ascii=False))
            return 0
        result = desk.check_in(code)
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
    ledger = installed.open_ledger()
    try:
        result = ledger.undo(device, seq, reason)
    finally:
        ledger.close()
    if isinstance(result, Recorded):
        log(Event.CHECK_IN_UNDONE, seq=result.seq, undone=f"{device}:{seq}")
        print(json.dumps({"undone": f"{device}:{seq}", "seq": result.seq, "at": result.wall}))
        return 0
    print(f"kiosk: undo refused: {result.reason}", file=sys.stderr)
    return 1


def _verify(installed: Installed) -> int:
    ledger = installed.open_ledger()
    try:
        counts = verify_chain(ledger.events(installed.claims.device_id), installed.config.id,
                              installed.claims.device_id, installed.device_public_key())
    except LedgerCorrupt as exc:
        log(Event.LEDGER_CORRUPT, reason=str(exc))
        print(f"kiosk: LEDGER VERIFICATION FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        ledger.close()
    log(Event.LEDGER_VERIFIED, events=counts.events)
    print(json.dumps({"ok": True, "events": counts.events, "check_ins": counts.check_ins,
                      "undos": counts.undos, "live_check_ins": counts.live_check_ins,
                      "decisions": counts.decisions, "head": counts.head}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
