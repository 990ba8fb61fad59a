"""Start the kiosk app for a provisioned device: `kiosk app --state DIR [--simulate]`."""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")  # the kiosk parses its own options

from drivers.card.fake import FakeCardReader  # noqa: E402
from drivers.card.minting import DEMO_CARD_PIN, CardAuthority  # noqa: E402
from drivers.card.profiles import PROFILES  # noqa: E402
from drivers.card.reader import CardReader  # noqa: E402
from drivers.card.virtual import VirtualCard  # noqa: E402
from drivers.hardware import HardwareSettings, open_card_reader, open_printer, open_scanner  # noqa: E402
from drivers.scanner import BarcodeScanner  # noqa: E402
from kiosk.core.closing import day_start_utc  # noqa: E402
from kiosk.core.flow import CheckInFlow  # noqa: E402
from kiosk.desk import CaseDesk, Desk  # noqa: E402
from kiosk.state import CURRENT, Installed, Part, StateRefused, claim_app_lock, recheck_installed  # noqa: E402
from kiosk.ui.app import CardWiring, KioskApp, Letterhead, PrinterWiring, ScannerWiring, monotonic  # noqa: E402
from kiosk.ui.card_sign_in import CardSignInWiring  # noqa: E402
from kiosk.ui.lan import LanLinks  # noqa: E402
from kiosk.ui.lockdown import StaffGate, recheck_registry, run_stopped, stopped  # noqa: E402
from kiosk.ui.watchdog import serve_systemd  # noqa: E402
from kiosk.core.branch import Duplicate  # noqa: E402
from kiosk.store.day import DayFigures  # noqa: E402
from kiosk.store.replica import Replica  # noqa: E402
from kiosk.trust.certs import cert_pem  # noqa: E402
from kiosk.trust.officials import OfficialRole  # noqa: E402
from kiosk.trust.manifest import Difference  # noqa: E402


class FilesChanged(Exception):
    """A small file of the installed package is not as the authority signed it: serve no one."""

    def __init__(self, difference: Difference) -> None:
        super().__init__(difference.message())
        self.difference = difference


@dataclass
class Kiosk:
    """A built app and what it holds open, so tests and the command can drive and close it."""

    app: KioskApp
    reader: CardReader
    wiring: CardWiring
    scanner: BarcodeScanner | None = None
    printer: PrinterWiring | None = None
    lan: LanLinks | None = None

    def close(self) -> None:
        """Stop the drivers' and the network's threads."""
        if self.lan is not None:
            self.lan.close()
        self.reader.close()
        if self.scanner is not None:
            self.scanner.close()
        if self.printer is not None:
            self.printer.close()


def build(state: Path, simulate: bool, lang: str = "fa", profile: str = "iran-nid",
          demo_codes: dict[str, str] | None = None, scanner_port: str | None = None,
          printer_port: str | None = None, lan: list[str] | None = None, network: bool = True,
          max_skew_minutes: float = 2.0, reader_name: str | None = None, scanner_baud: int = 9600,
          printer_baud: int = 9600, sync_port: int = 0, installed: Installed | None = None,
          head_card: VirtualCard | None = None) -> Kiosk:
    """Everything the app needs, from the installed package and the device's state folder.

    `lan` pins zeroconf to these interface addresses (None: every interface), `sync_port` fixes the
    port other kiosks dial (0: any free one);
    `network=False` leaves the representative's link out; a clock further than `max_skew_minutes`
    from the console's beacon is shown to staff.
    Raises FilesChanged, before opening anything, when a small file of the package is not as signed;
    the registry is re-hashed on a thread of its own, and a difference there stops the running app.
    `installed` is the device as the locked screen unlocked it (else it is opened here, and must be unlocked).
    """
    if installed is None:
        installed = _checked_device(state)
    book = installed.staff_book()
    if not book.has_accounts():
        raise StateRefused("no staff account: set the branch head's PIN with kiosk-provision staff")
    staff = StaffGate(book)
    ledger = installed.open_ledger()
    registry = installed.open_registry()
    links = LanLinks.create(installed, lan, int(max_skew_minutes * 60_000), start_of_today_utc,
                            sync_port) if network else None
    pushed = links.poke if links is not None else None
    desk = Desk(registry, ledger, installed.config.rules, on_record=pushed)
    outbox = installed.open_outbox(ledger)
    cases = CaseDesk(outbox, installed.config.rules, ledger, registry, on_change=pushed)
    replica = Replica(ledger, installed.authority_cert, cert_pem(installed.device_cert), installed.claims.branches)
    flow = CheckInFlow(desk, staff, monotonic, cases=cases, duplicates=_Acknowledged(replica, pushed),
                       checkins_so_far=ledger.live_check_ins_since(start_of_today_utc()),
                       summary=DayFigures(ledger, outbox))
    hardware = HardwareSettings(simulate=simulate, reader=reader_name, card_profile=profile,
                                scanner_port=scanner_port, scanner_baud=scanner_baud, printer_port=printer_port,
                                printer_baud=printer_baud)
    reader = open_card_reader(hardware)
    anchors = installed.card_anchors()
    dev: list[tuple[str, Any]] = []
    if isinstance(reader, FakeCardReader):
        dev, card_ca = _dev_panel(reader, demo_codes or {}, profile, head_card)
        anchors = [*anchors, card_ca]  # the simulated cards' authority, in simulation only
    branch = installed.claims.branches[0]
    app = KioskApp(flow, branch, dev_buttons=dev, lang=lang)
    wiring = CardWiring(reader, app.bridge, hardware.card_profile, anchors, installed.config.day.to_gregorian())
    bridge = app.bridge
    card_sign_in = CardSignInWiring(installed, reader, PROFILES[hardware.card_profile], OfficialRole.HEAD,
                                    lambda result: bridge.on_kivy_thread(bridge.flow.card_signed_in, result))
    bridge.card_sign_in = card_sign_in.sign_in
    scanner = open_scanner(hardware)
    if scanner is not None:
        ScannerWiring(scanner, app.bridge)
        scanner.start()
    printer = open_printer(hardware)
    names = {b.code: b.name for b in installed.config.branches}
    letterhead = Letterhead(branch, names.get(branch, branch), installed.claims.device_id)
    printing = PrinterWiring(printer, app.bridge, letterhead=letterhead) if printer is not None else None
    if printing is not None:
        flow.attach_printer(printing)
    if links is not None:
        links.attach(app.bridge)

    def registry_changed(difference: Difference) -> None:
        # The branch links stay up: who was checked in here before is already_voted on the other kiosks.
        staff.stop()
        stopped(difference, "registry re-hash")
        app.bridge.on_kivy_thread(app.stop_serving, difference)

    recheck_registry(installed.package_dir, registry_changed)
    return Kiosk(app, reader, wiring, scanner, printing, links)


@dataclass
class _Acknowledged:
    """The replica as the flow's duplicates port; an acknowledgement is a ledger event, so sync pushes it."""

    replica: Replica
    pushed: Callable[[], None] | None

    def duplicates(self) -> list[Duplicate]:
        """Double check-ins staff have not acknowledged on this kiosk."""
        return self.replica.duplicates()

    def acknowledge(self, duplicate: Duplicate, account: str) -> object:
        """Record the acknowledgement and push it to the other kiosks."""
        recorded = self.replica.acknowledge(duplicate, account)
        if self.pushed is not None:
            self.pushed()
        return recorded


def start_of_today_utc() -> str:
    """Midnight of today in Tehran (the election's zone), as the UTC ISO text the ledger stores."""
    return day_start_utc(dt.datetime.now(dt.timezone.utc))


def _dev_panel(reader: FakeCardReader, codes: dict[str, str], profile: str,
               head_card: VirtualCard | None = None) -> tuple[list[tuple[str, Any]], Any]:
    """Buttons that insert fake cards of each kind, so every screen can be tried without hardware."""
    ca, forger = CardAuthority(), CardAuthority("Test National ID CA")
    buttons: list[tuple[str, Any]] = []

    def insert(authority: CardAuthority, code: str) -> None:
        reader.replace_card(VirtualCard.of(profile, authority.card_certificate(code)))

    for kind, code in codes.items():
        buttons.append((kind, lambda c=code: insert(ca, c)))
    if codes:
        buttons.append(("untrusted", lambda c=next(iter(codes.values())): insert(forger, c)))
    if head_card is not None:
        buttons.append(("head's card", partial(reader.replace_card, head_card)))
    buttons.append(("remove card", reader.remove_card))
    buttons.append(("unplug", reader.unplug))
    buttons.append(("plug", reader.plug))
    return buttons, ca.certificate


def _checked_device(state: Path) -> Installed:
    """The installed device, after its small files were re-hashed (FilesChanged when one is not as signed)."""
    if (state / CURRENT).is_dir():
        changed = recheck_installed(state / CURRENT, Part.SMALL)
        if changed is not None:
            raise FilesChanged(changed)
    return Installed.open(state)


def unlocked_device(state: Path, simulate: bool, lang: str = "fa", profile: str = "iran-nid",
                    lan: list[str] | None = None, network: bool = True, reader_name: str | None = None,
                    head_card: VirtualCard | None = None) -> Installed | None:
    """The device ready to serve: as installed if already unlocked, else after the locked screen unlocked it.

    None when the locked screen was stopped without an unlock (systemd stopping the unit).
    `head_card` (simulation only) is the branch head's virtual card the developer panel inserts.
    """
    installed = _checked_device(state)
    if not installed.staff_book().has_accounts():
        raise StateRefused("no staff account: set the branch head's PIN with kiosk-provision staff")
    if not installed.locked:
        return installed
    from kiosk.ui.locked_app import LockedApp
    reader = open_card_reader(HardwareSettings(simulate=simulate, reader=reader_name, card_profile=profile))
    dev: list[tuple[str, Any]] = []
    if isinstance(reader, FakeCardReader):
        if head_card is not None:
            dev.append(("head's card", partial(reader.replace_card, head_card)))
        dev.append(("remove card", reader.remove_card))
    app = LockedApp(installed, reader, profile, lang, lan=lan, network=network, dev_buttons=dev)
    try:
        app.run()
    finally:
        reader.close()
    return app.unlocked


def demo_head_card(folder: Path, profile: str = "iran-nid") -> VirtualCard:
    """The demo head's virtual card from ./dev demo's folder, in the simulated cards' layout, with the demo's PIN."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    try:
        key = serialization.load_pem_private_key((folder / "head.key").read_bytes(), None)
        certificate = (folder / "head.der").read_bytes()
    except (OSError, ValueError) as exc:
        raise StateRefused(f"--demo-head-card: no demo card in {folder}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise StateRefused(f"--demo-head-card: {folder / 'head.key'} is not an EC key")
    return VirtualCard.of(profile, certificate, key=key, pin=DEMO_CARD_PIN)


def main(state: Path, simulate: bool, lang: str, demo_codes_file: Path | None,
         head_card: VirtualCard | None = None, **options: Any) -> int:
    """Run until the window is closed; `options` are `build`'s (ports, bauds, reader, lan, skew bound, sync port).

    A locked device shows the locked screen first; the kiosk app starts, in the same process, once it is unlocked.
    """
    codes = json.loads(demo_codes_file.read_text("utf-8")) if demo_codes_file else None
    if state.is_dir():
        claim_app_lock(state)   # held until this process ends
    try:
        installed = unlocked_device(state, simulate, lang, options.get("profile", "iran-nid"), options.get("lan"),
                                    reader_name=options.get("reader_name"), head_card=head_card)
        if installed is None:
            return 0
        kiosk = build(state, simulate, lang, demo_codes=codes, installed=installed, head_card=head_card, **options)
    except FilesChanged as exc:
        return run_stopped(exc.difference, "kiosk")
    serve_systemd("serving voters")
    try:
        kiosk.app.run()
    finally:
        kiosk.close()
    return 0
