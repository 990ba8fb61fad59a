"""Start the kiosk app for a provisioned device: `kiosk app --state DIR [--simulate]`."""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")  # the kiosk parses its own options

from drivers.card.fake import FakeCardReader  # noqa: E402
from drivers.card.minting import CardAuthority  # noqa: E402
from drivers.card.reader import CardReader  # noqa: E402
from drivers.card.virtual import VirtualCard  # noqa: E402
from drivers.hardware import HardwareSettings, open_card_reader, open_printer, open_scanner  # noqa: E402
from drivers.scanner import BarcodeScanner  # noqa: E402
from kiosk.core.flow import CheckInFlow  # noqa: E402
from kiosk.desk import CaseDesk, Desk  # noqa: E402
from kiosk.state import STAFF, Installed, StateRefused  # noqa: E402
from kiosk.store.staff import StaffBook  # noqa: E402
from kiosk.ui.app import CardWiring, KioskApp, PrinterWiring, ScannerWiring, monotonic  # noqa: E402
from kiosk.ui.screens.verdict import TEHRAN  # noqa: E402
from kiosk.ui.bridge import FlowBridge  # noqa: E402
from kiosk.net.courier import Courier  # noqa: E402
from kiosk.net.discovery import REP_SERVICE, Browser, DiscoveryError  # noqa: E402
from kiosk.logbook import Event, log  # noqa: E402


@dataclass
class Kiosk:
    """A built app and what it holds open, so tests and the command can drive and close it."""

    app: KioskApp
    reader: CardReader
    wiring: CardWiring
    scanner: BarcodeScanner | None = None
    printer: PrinterWiring | None = None
    link: RepLink | None = None

    def close(self) -> None:
        """Stop the drivers' and the network's threads."""
        if self.link is not None:
            self.link.close()
        self.reader.close()
        if self.scanner is not None:
            self.scanner.close()
        if self.printer is not None:
            self.printer.close()


def build(state: Path, simulate: bool, lang: str = "fa", profile: str = "iran-nid",
          demo_codes: dict[str, str] | None = None, scanner_port: str | None = None,
          printer_port: str | None = None, lan: list[str] | None = None, network: bool = True,
          max_skew_minutes: float = 2.0) -> Kiosk:
    """Everything the app needs, from the installed package and the device's state folder.

    `lan` pins zeroconf to these interface addresses (None: every interface);
    `network=False` leaves the representative's link out; a clock further than `max_skew_minutes`
    from the console's beacon is shown to staff.
    """
    installed = Installed.open(state)
    staff = StaffBook(state / STAFF)
    if not staff.accounts():
        raise StateRefused("no staff account: set the branch head's PIN with kiosk-provision staff")
    ledger = installed.open_ledger()
    registry = installed.open_registry()
    desk = Desk(registry, ledger, installed.config.rules)
    courier = Courier(installed, today_start_utc=start_of_today_utc,
                      skew_bound_ms=int(max_skew_minutes * 60_000)) if network else None
    cases = CaseDesk(installed.open_outbox(ledger), installed.config.rules, ledger, registry,
                     on_change=courier.poke if courier is not None else None)
    flow = CheckInFlow(desk, staff, monotonic, cases=cases,
                       checkins_so_far=ledger.live_check_ins_since(start_of_today_utc()))
    hardware = HardwareSettings(simulate=simulate, card_profile=profile, scanner_port=scanner_port,
                                printer_port=printer_port)
    reader = open_card_reader(hardware)
    anchors = installed.card_anchors()
    dev: list[tuple[str, Any]] = []
    if isinstance(reader, FakeCardReader):
        dev, card_ca = _dev_panel(reader, demo_codes or {}, profile)
        anchors = [*anchors, card_ca]  # the simulated cards' authority, in simulation only
    app = KioskApp(flow, installed.claims.branches[0], dev_buttons=dev, lang=lang)
    wiring = CardWiring(reader, app.bridge, hardware.card_profile, anchors, installed.config.day.to_gregorian())
    scanner = open_scanner(hardware)
    if scanner is not None:
        ScannerWiring(scanner, app.bridge)
        scanner.start()
    printer = open_printer(hardware)
    printing = PrinterWiring(printer, app.bridge) if printer is not None else None
    link = RepLink.start(installed, courier, app.bridge, lan) if courier is not None else None
    return Kiosk(app, reader, wiring, scanner, printing, link)


@dataclass
class RepLink:
    """The courier and the zeroconf browser that feeds it consoles."""

    courier: Courier
    browser: Browser | None

    @classmethod
    def start(cls, installed: Installed, courier: Courier, bridge: FlowBridge, lan: list[str] | None) -> RepLink:
        """Browse for this election's and branch's consoles; status and decisions reach the screen.

        A kiosk with no usable network still serves voters: cases wait in the outbox, the link shows offline.
        """
        courier.on_status = bridge.link_changed
        courier.on_cases = lambda: bridge.on_kivy_thread(bridge.flow.cases_changed)
        browser = Browser(REP_SERVICE, installed.config.id, installed.claims.branches,
                          on_change=courier.endpoints_changed, interfaces=lan)
        try:
            browser.start()
        except DiscoveryError as exc:
            log(Event.DISCOVERY_FAILED, reason=str(exc))
            return cls(courier, None)
        return cls(courier, browser)

    def close(self) -> None:
        """Stop browsing, then stop the links."""
        if self.browser is not None:
            self.browser.close()
        self.courier.close()


def start_of_today_utc() -> str:
    """Midnight of today in Tehran (the election's zone), as the UTC ISO text the ledger stores."""
    now = dt.datetime.now(TEHRAN)
    midnight = dt.datetime(now.year, now.month, now.day, tzinfo=TEHRAN)
    return midnight.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def _dev_panel(reader: FakeCardReader, codes: dict[str, str], profile: str) -> tuple[list[tuple[str, Any]], Any]:
    """Buttons that insert fake cards of each kind, so every screen can be tried without hardware."""
    ca, forger = CardAuthority(), CardAuthority("Test National ID CA")
    buttons: list[tuple[str, Any]] = []

    def insert(authority: CardAuthority, code: str) -> None:
        reader.remove_card()  # a new card is a new insertion, as in a real reader
        reader.insert_card(VirtualCard.of(profile, authority.card_certificate(code)))

    for kind, code in codes.items():
        buttons.append((kind, lambda c=code: insert(ca, c)))
    if codes:
        buttons.append(("untrusted", lambda c=next(iter(codes.values())): insert(forger, c)))
    buttons.append(("remove card", reader.remove_card))
    buttons.append(("unplug", reader.unplug))
    buttons.append(("plug", reader.plug))
    return buttons, ca.certificate


def main(state: Path, simulate: bool, lang: str, demo_codes_file: Path | None,
         scanner_port: str | None = None, printer_port: str | None = None, lan: list[str] | None = None,
         max_skew_minutes: float = 2.0) -> int:
    """Run until the window is closed."""
    codes = json.loads(demo_codes_file.read_text("utf-8")) if demo_codes_file else None
    kiosk = build(state, simulate, lang, demo_codes=codes, scanner_port=scanner_port, printer_port=printer_port,
                  lan=lan, max_skew_minutes=max_skew_minutes)
    try:
        kiosk.app.run()
    finally:
        kiosk.close()
    return 0
