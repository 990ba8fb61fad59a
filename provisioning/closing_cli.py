"""`kiosk-provision export` and `wipe`: what the technician sees and types at close of polls."""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from drivers.errors import DriverError
from drivers.hardware import HardwareSettings, open_printer
from drivers.printer import PrintResult
from drivers.receipts import closing_layout, render
from kiosk.core.closing import ClosingSummary, summary_lines
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.state import Installed, StateRefused
from kiosk.trust import certs
from provisioning.export import ExportRefused, export
from provisioning.wipe import WipeRefused, wipe


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `export` and `wipe`."""
    exp = sub.add_parser("export", help="close of polls: write the signed bundle for the authority, "
                                        "show and print the day's summary")
    exp.add_argument("--state", type=Path, required=True)
    exp.add_argument("--out", type=Path, required=True, help="folder on the USB stick for the authority")
    exp.add_argument("--printer-port", help="print the summary on the receipt printer at this serial port")
    exp.add_argument("--printer-baud", type=int, default=9600)
    exp.add_argument("--simulate", action="store_true", help="print on the fake printer (demos, tests)")
    wp = sub.add_parser("wipe", help="remove keys, registry, ledger and cases; only after a verified export")
    wp.add_argument("--state", type=Path, required=True)
    wp.add_argument("--force", action="store_true", help="wipe without a verified export of the current records")
    wp.add_argument("--reason", help="why (required with --force; shown, logged and put in the last export)")
    wp.add_argument("--out", type=Path, help="with --force: where to try a last export carrying the reason")


def _owner_only(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command under umask 077: the export record, a last export, the audit log are the owner's alone."""
    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        previous = os.umask(0o077)
        try:
            return run(args)
        finally:
            os.umask(previous)
    return wrapped


@_owner_only
def run_export(args: argparse.Namespace) -> int:
    """Export, then show the summary (Persian first) and print it if a printer is set."""
    try:
        done = export(args.state, args.out)
        installed = Installed.open(args.state)
    except (ExportRefused, StateRefused) as exc:
        print(f"kiosk-provision: export refused: {exc}", file=sys.stderr)
        return 1
    kiosk = installed.claims.role is certs.Role.KIOSK
    print(f"bundle written and read back: {done.path}")
    print(f"sha256 {done.sha256}; " + (f"{done.own_events} events of this device, {done.held_events} held in all, "
                                       if kiosk else "") + f"{done.cases} cases")
    if os.environ.get("TERM") == "linux":
        # The kernel's text console cannot join or order Persian letters: English here, Persian on paper.
        print("(Persian summary: on the receipt and in the .summary.txt file beside the bundle)")
        shown = summary_lines(done.summary, "en", kiosk)
    else:
        shown = [*summary_lines(done.summary, "fa", kiosk), "", *summary_lines(done.summary, "en", kiosk)]
    for line in shown:
        print(line)
    if args.printer_port or args.simulate:
        settings = HardwareSettings(simulate=args.simulate, printer_port=args.printer_port,
                                    printer_baud=args.printer_baud)
        result = _print_summary(settings, installed, done.summary)
        print(f"summary printed: {result.value}")
        if result is not PrintResult.PRINTED:
            print("kiosk-provision: the summary was not printed; the bundle is written", file=sys.stderr)
    return 0


def _print_summary(settings: HardwareSettings, installed: Installed, summary: ClosingSummary) -> PrintResult:
    now = dt.datetime.now(TEHRAN)
    kiosk = installed.claims.role is certs.Role.KIOSK
    branch = installed.claims.branches[0]
    names = {b.code: b.name for b in installed.config.branches}
    image = render(closing_layout(branch_code=branch, branch_name=names.get(branch, branch),
                                  day=JalaliDate.from_gregorian(now.date()), at=now.time(),
                                  device_id=installed.claims.device_id,
                                  lines_fa=summary_lines(summary, "fa", kiosk),
                                  lines_en=summary_lines(summary, "en", kiosk)))
    try:
        printer = open_printer(settings)
        if printer is None:
            return PrintResult.OFFLINE
        with printer:
            return printer.print_image(image)
    except DriverError:
        return PrintResult.OFFLINE


@_owner_only
def run_wipe(args: argparse.Namespace) -> int:
    """Wipe, or say exactly why not."""
    if args.force and not (args.reason or "").strip():
        print("kiosk-provision: wipe refused: --force needs --reason", file=sys.stderr)
        return 2
    try:
        done = wipe(args.state, args.reason if args.force else None, args.out if args.force else None)
    except (WipeRefused, ExportRefused) as exc:
        print(f"kiosk-provision: wipe refused: {exc}", file=sys.stderr)
        return 1
    if done.forced_reason:
        print(f"FORCED WIPE without a verified export; reason: {done.forced_reason}")
        if done.last_export:
            print(f"a last export carrying the reason was written: {done.last_export}")
        elif done.export_problem:
            print(f"no last export could be written: {done.export_problem}")
    print(f"device wiped{f' after election {done.election}' if done.election else ''}; "
          "run kiosk-provision init to provision it again")
    if done.left:
        shown = ", ".join(done.left[:5]) + (f" and {len(done.left) - 5} more" if len(done.left) > 5 else "")
        print(f"left {len(done.left)} entries the device did not write (move them before init): {shown}")
    return 0
