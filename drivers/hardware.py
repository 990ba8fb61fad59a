"""The one place where real or fake hardware is chosen, at start-up (`--simulate`)."""
from __future__ import annotations

from dataclasses import dataclass

from drivers.card.fake import FakeCardReader
from drivers.card.pcsc import PcscReader
from drivers.card.reader import CardReader
from drivers.printer import FakePrinter, ReceiptPrinter, SerialEscposPrinter
from drivers.scanner import BarcodeScanner, FakeScanner, SerialScanner


@dataclass(frozen=True, slots=True)
class HardwareSettings:
    """Which devices to open, from the device settings or the command line."""

    simulate: bool = False
    reader: str | None = None          # prefer the first reader whose name contains this
    card_profile: str = "iran-nid"
    scanner_port: str | None = None    # e.g. /dev/ttyACM0; None: no scanner attached
    scanner_baud: int = 9600
    printer_port: str | None = None    # e.g. /dev/ttyUSB0; None: no printer attached
    printer_baud: int = 9600


def open_card_reader(settings: HardwareSettings) -> CardReader:
    """The PC/SC reader, or the fake one when simulating."""
    if settings.simulate:
        return FakeCardReader()
    return PcscReader(prefer=settings.reader)


def open_printer(settings: HardwareSettings) -> ReceiptPrinter | None:
    """The ESC/POS printer on its serial port, the fake one when simulating, or None when none is set."""
    if settings.simulate:
        return FakePrinter()
    if settings.printer_port is None:
        return None
    return SerialEscposPrinter(settings.printer_port, settings.printer_baud)


def open_scanner(settings: HardwareSettings) -> BarcodeScanner | None:
    """The serial barcode scanner (not yet started), the fake one, or None when none is set."""
    if settings.simulate:
        return FakeScanner()
    if settings.scanner_port is None:
        return None
    return SerialScanner(settings.scanner_port, settings.scanner_baud)
