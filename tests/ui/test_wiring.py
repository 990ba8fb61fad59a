"""Drivers to the core through the Kivy bridge, without a window: scans and cards become flow commands."""
from __future__ import annotations

import time
from pathlib import Path

from kivy.clock import Clock

from drivers.card.fake import FakeCardReader
from drivers.card.minting import CardAuthority
from drivers.card.virtual import VirtualCard
from drivers.scanner import FakeScanner
from helpers import PEOPLE, World, data_keys
from kiosk.core.eligibility import Verdict
from kiosk.core.flow import CheckInFlow, Notice, Screen
from kiosk.core.staff import Role
from kiosk.desk import Desk
from kiosk.store.staff import StaffBook
from kiosk.ui.app import CardWiring, ScannerWiring
from kiosk.ui.bridge import FlowBridge


def _until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the bridge never delivered"
        Clock.tick()
        time.sleep(0.01)


def _signed_in(world: World, tmp_path: Path) -> FlowBridge:
    installed = world.installed()
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    flow = CheckInFlow(Desk(installed.open_registry(), installed.open_ledger(), installed.config.rules), staff,
                       time.monotonic)
    flow.sign_in("w1", "246802")
    return FlowBridge(flow)


def test_a_scan_becomes_a_verdict_and_a_bad_scan_a_notice(world: World, tmp_path: Path) -> None:
    bridge = _signed_in(world, tmp_path)
    scanner = FakeScanner()
    ScannerWiring(scanner, bridge)
    scanner.start()
    try:
        _until(lambda: bridge.scanner == "ready")
        scanner.scan("https://example.org/not-a-code")
        _until(lambda: bridge.state.notice is Notice.SCAN_UNUSABLE)
        scanner.scan("]C0" + PEOPLE["underage"].code)
        _until(lambda: bridge.state.screen is Screen.VERDICT)
        assert bridge.state.outcome.verdict is Verdict.UNDERAGE
    finally:
        scanner.close()


def test_a_card_becomes_a_verdict_and_pulling_the_reader_a_notice(world: World, tmp_path: Path) -> None:
    bridge = _signed_in(world, tmp_path)
    reader, ca = FakeCardReader(), CardAuthority()
    CardWiring(reader, bridge, "test", [ca.certificate], world.installed("kiosk2").config.day.to_gregorian())
    reader.insert_card(VirtualCard.of("test", ca.card_certificate(PEOPLE["eligible"].code)))
    _until(lambda: bridge.state.screen is Screen.VERDICT)
    assert bridge.state.outcome.verdict is Verdict.ELIGIBLE and bridge.reader == "card_present"
    reader.unplug()
    _until(lambda: bridge.state.notice is Notice.READER_UNPLUGGED)


def test_printer_status_reaches_the_status_bar_and_polling_stops_on_close(world: World, tmp_path: Path) -> None:
    from drivers.printer import FakePrinter
    from kiosk.ui.app import PrinterWiring
    bridge = _signed_in(world, tmp_path)
    printer = FakePrinter()
    wiring = PrinterWiring(printer, bridge, every=0.05)
    try:
        _until(lambda: bridge.printer == "ready")
        printer.set_paper_out()
        _until(lambda: bridge.printer == "paper_out")
    finally:
        wiring.close()
    assert not wiring._thread.is_alive()


def test_a_kiosk_whose_network_cannot_start_still_serves_and_shows_the_link_offline(
        world: World, tmp_path: Path, monkeypatch: object) -> None:
    from kiosk.net import discovery
    from kiosk.ui.lan import LanLinks

    def no_network(self: object) -> None:
        raise discovery.DiscoveryError("zeroconf could not open its sockets")

    monkeypatch.setattr(discovery.Browser, "start", no_network)  # type: ignore[attr-defined]
    monkeypatch.setattr(discovery.Advertiser, "start", no_network)  # type: ignore[attr-defined]
    bridge = _signed_in(world, tmp_path)
    installed = world.installed("kiosk2")
    links = LanLinks.create(installed, ["127.0.0.1"], 120_000, lambda: "")
    links.attach(bridge)
    try:
        assert links.browser is None and bridge.rep == "offline"
        bridge.flow.code_entered(PEOPLE["eligible"].code)
        assert bridge.flow.state.outcome is not None and bridge.flow.state.outcome.verdict is Verdict.ELIGIBLE
    finally:
        links.close()


def test_the_sync_port_can_be_fixed_so_a_firewall_can_name_it(world: World, tmp_path: Path) -> None:
    import socket

    from kiosk.ui.lan import LanLinks
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    links = LanLinks.create(world.installed("kiosk2"), ["127.0.0.1"], 120_000, lambda: "", sync_port=port)
    links.attach(_signed_in(world, tmp_path))
    try:
        assert links.sync.port == port
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass                                    # other kiosks can dial it there
    finally:
        links.close()


def test_every_printer_result_has_a_word_in_the_core() -> None:
    from drivers.printer import PrintResult
    from kiosk.core.flow import Printed
    from kiosk.ui.app import printed
    assert {printed(r) for r in PrintResult} == set(Printed)
