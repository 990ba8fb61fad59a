"""The `kiosk-rep` command: the governor's representative's console on a laptop or a Pi.

It serves the branch's kiosks over mutual TLS, advertises itself by zeroconf,
and shows the case queue. The representative's PIN is set at provisioning
(`kiosk-provision staff --account rep --name ... --role head`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kiosk.logbook import configure
from kiosk.rep.console import Console
from kiosk.state import STAFF, Installed, StateRefused, claim_app_lock
from kiosk.store.staff import StaffBook
from kiosk.trust.certs import Role


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-rep", description="The governor's representative's console")
    parser.add_argument("--state", type=Path, required=True, help="the console's state folder")
    parser.add_argument("--lang", choices=["fa", "en"], default="fa")
    parser.add_argument("--port", type=int, default=0, help="TCP port for kiosks (default: any free port, "
                                                             "advertised by zeroconf)")
    parser.add_argument("--lan", action="append", metavar="ADDRESS",
                        help="serve and advertise only on the interface with this IPv4 address "
                             "(repeatable; default: every interface)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kiosk-rep`; exit 0 when the window closes, 1 on a refusal."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the console parses its own options
    configure(getattr(args, "state", None))
    try:
        installed = Installed.open(args.state)
        if installed.claims.role is not Role.REP:
            raise StateRefused("this device is not enrolled as a representative's console")
        if not StaffBook(args.state / STAFF).accounts():
            raise StateRefused("no PIN is set: run kiosk-provision staff --account rep --role head")
        claim_app_lock(args.state)   # held until this process ends
        console = Console.start(installed, args.lan, args.port)
    except (StateRefused, ValueError) as exc:
        print(f"kiosk-rep: {exc}", file=sys.stderr)
        return 1
    try:
        from kiosk.rep.ui.app import build_console  # Kivy is imported only once the console is serving
        from kiosk.ui.watchdog import serve_systemd
        serve_systemd("serving kiosks")
        build_console(console.service, StaffBook(args.state / STAFF), installed.config.name,
                      installed.claims.branches, args.lang).run()
    finally:
        console.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
