"""The `kiosk-rep` command: the governor's representative's console on a laptop or a Pi.

It serves the branch's kiosks over mutual TLS, advertises itself by zeroconf,
and shows the case queue. The representative's PIN is set at provisioning
(`kiosk-provision staff --account rep --name ... --role head`).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from typing import Any

from drivers.card.profiles import Profile
from drivers.card.reader import CardReader
from kiosk.logbook import configure
from kiosk.rep.console import Console
from kiosk.rep.service import RepService
from kiosk.state import CURRENT, Installed, Part, StateRefused, claim_app_lock, recheck_installed
from kiosk.trust.certs import Role
from kiosk.trust.manifest import Difference


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-rep", description="The governor's representative's console")
    parser.add_argument("--state", type=Path, required=True, help="the console's state folder")
    parser.add_argument("--lang", choices=["fa", "en"], default="fa")
    parser.add_argument("--port", type=int, default=0, help="TCP port for kiosks (default: any free port, "
                                                             "advertised by zeroconf)")
    parser.add_argument("--card-reader", metavar="NAME",
                        help="the PC/SC reader (first whose name contains NAME) for the representative's card: "
                             "sign in with it, and every decision is signed on the card too")
    parser.add_argument("--card-profile", choices=["iran-nid", "test"], default="iran-nid")
    parser.add_argument("--lan", action="append", metavar="ADDRESS",
                        help="serve and advertise only on the interface with this IPv4 address "
                             "(repeatable; default: every interface)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kiosk-rep`; exit 0 when the window closes, 1 on a refusal."""
    previous = os.umask(0o077)   # the case book and the audit log are for this device's owner only
    try:
        return _main(_parser().parse_args(argv))
    finally:
        os.umask(previous)


def _main(args: argparse.Namespace) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # the console parses its own options
    configure(getattr(args, "state", None))
    changed = recheck_installed(args.state / CURRENT, Part.SMALL) if (args.state / CURRENT).is_dir() else None
    if changed is not None:
        return _stopped(args.state, changed)
    try:
        installed = Installed.open(args.state)
        if installed.claims.role is not Role.REP:
            raise StateRefused("this device is not enrolled as a representative's console "
                               "(it is a kiosk: start it with kiosk app)")
        if installed.locked:
            # The representative's account and the kiosks' unlocks are sealed to the day's keys.
            raise StateRefused("the console is locked: unlock it first (kiosk-provision unlock --state ... with the "
                               "representative's card, --card, or the recovery code from the sealed envelope)")
        if not installed.staff_book().has_accounts():
            raise StateRefused("no PIN is set: run kiosk-provision staff --account rep --role head")
        claim_app_lock(args.state)   # held until this process ends
        console = Console.start(installed, args.lan, args.port)
    except (StateRefused, ValueError) as exc:
        print(f"kiosk-rep: {exc}", file=sys.stderr)
        return 1
    close = _once(console.close)
    try:
        from kiosk.rep.ui.app import build_console  # Kivy is imported only once the console is serving
        from kiosk.ui.lockdown import StaffGate
        from kiosk.ui.watchdog import serve_systemd
        serve_systemd("serving kiosks")
        staff = StaffGate(installed.staff_book())
        app = build_console(console.service, staff, installed.config.name, installed.claims.branches, args.lang)
        if args.card_reader:
            reader = attach_card_reader(app, console.service, installed, args.card_reader, args.card_profile)
            close_console = close

            def close_both() -> None:
                reader.close()
                close_console()
            close = _once(close_both)
        app.run()
    finally:
        close()
    return 0


def attach_card_reader(app: Any, service: RepService, installed: Installed, reader_name: str,
                       profile_name: str) -> CardReader:
    """The representative's card at the console: sign in with it; while signed in, it signs every decision."""
    from drivers.card.pcsc import PcscReader
    from drivers.card.profiles import PROFILES
    reader = PcscReader(prefer=reader_name)
    return wire_card(app, service, installed, reader, PROFILES[profile_name])


def wire_card(app: Any, service: RepService, installed: Installed, reader: CardReader, profile: Profile
              ) -> CardReader:
    """Give the console's sign-in screen its card sign-in, and the service the card's signature while signed in."""
    from kivy.clock import Clock

    from kiosk.official_card import CardEndorser
    from kiosk.trust.officials import OfficialRole
    from kiosk.ui.card_sign_in import CardSignInWiring
    flow = app.bridge.flow

    def granted(certificate: bytes) -> None:
        service.endorser = CardEndorser(reader.transmit, profile, certificate)

    def signed_out(state: Any) -> None:
        if state.account is None:
            service.endorser = None   # a lock, or idle time: the next representative signs in again
    flow.subscribe(signed_out)
    wiring = CardSignInWiring(installed, reader, profile, OfficialRole.REP,
                              lambda result: Clock.schedule_once(lambda _dt: flow.card_signed_in(result)), granted)
    app.bridge.card_sign_in = wiring.sign_in
    return reader


def _stopped(state: Path, difference: Difference) -> int:
    """A small file changed: serve no kiosk, open nothing of the package, show the stop screen."""
    try:
        claim_app_lock(state)
    except StateRefused as exc:
        print(f"kiosk-rep: {exc}", file=sys.stderr)
        return 1
    from kiosk.ui.lockdown import run_stopped  # Kivy, for the stop screen
    return run_stopped(difference, "console")


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """`action` the first time, nothing after (a caller arriving while it runs waits for it to finish)."""
    lock, done = threading.Lock(), [False]

    def run() -> None:
        with lock:
            if not done[0]:
                done[0] = True
                action()
    return run


if __name__ == "__main__":
    sys.exit(main())
