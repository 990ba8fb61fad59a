"""`kiosk hw …`: the technician's bench tool — see what the device sees, on real hardware or on fakes."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.card.fake import FakeCardReader
from drivers.card.minting import CardAuthority
from drivers.card.pcsc import list_readers
from drivers.card.profiles import PROFILES, read_card
from drivers.card.reader import CardReader, ReaderEvent, ReaderStatus
from drivers.card.virtual import VirtualCard
from drivers.errors import DriverError
from drivers.hardware import HardwareSettings, open_card_reader, open_printer, open_scanner
from drivers.printer import PrintResult
from drivers.receipts import checkin_slip, escalation_ticket
from drivers.scanner import FakeScanner, ScanEvent, Scanned, StatusChanged, Unusable
from kiosk.core.jalali import JalaliDate
from kiosk.core.national_code import check_digit
from kiosk.state import Installed

# A valid synthetic code for the simulated card (office 000 does not exist).
_DEMO_CODE = "000123456" + str(check_digit("000123456"))


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `kiosk hw` and its subcommands."""
    hw = sub.add_parser("hw", help="technician's bench tool for the reader, scanner and printer")
    hw.add_argument("--simulate", action="store_true", help="use the fake devices")
    hw.add_argument("--reader", help="use the first reader whose name contains this")
    hw_sub = hw.add_subparsers(dest="hw_command", required=True)
    hw_sub.add_parser("readers", help="list the PC/SC readers")
    watch = hw_sub.add_parser("watch", help="print reader and card events")
    watch.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    read = hw_sub.add_parser("read-card", help="wait for a card and read it")
    read.add_argument("--profile", choices=sorted(PROFILES), default="iran-nid")
    read.add_argument("--state", type=Path, help="judge trust against this device's election anchors")
    read.add_argument("--wait", type=float, default=20, help="seconds to wait for a card")
    read.add_argument("--save", type=Path, metavar="FILE",
                      help="also write the card's certificate (DER) here, for kiosk-authority official add --card")
    scan = hw_sub.add_parser("scan", help="show what the barcode scanner sends, as codes or refusals")
    scan.add_argument("--port", help="the scanner's serial port, e.g. /dev/serial/by-id/…")
    scan.add_argument("--baud", type=int, default=9600)
    scan.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    printer = hw_sub.add_parser("print-test", help="print a test check-in slip and escalation ticket")
    printer.add_argument("--port", help="the printer's serial port, e.g. /dev/ttyUSB0")
    printer.add_argument("--baud", type=int, default=9600)
    printer.add_argument("--png", type=Path, help="also save the two receipts as PNG files in this folder")


def run(args: argparse.Namespace) -> int:
    """Run one `kiosk hw` subcommand; 0 on success, 1 on a device failure."""
    os.umask(0o077)   # as `kiosk` itself: what the bench tool saves is the technician's alone
    port, baud = getattr(args, "port", None), getattr(args, "baud", 9600)
    settings = HardwareSettings(simulate=args.simulate, reader=args.reader, printer_port=port, printer_baud=baud,
                                scanner_port=port, scanner_baud=baud)
    try:
        match args.hw_command:
            case "readers":
                names = ["Fake Reader 00"] if settings.simulate else list_readers()
                print(json.dumps({"readers": names}))
                return 0
            case "watch":
                return _watch(settings, args.seconds)
            case "read-card":
                return _read_card(settings, args.profile, args.state, args.wait, args.save)
            case "scan":
                return _scan(settings, args.seconds)
            case "print-test":
                return _print_test(settings, args.png)
    except DriverError as exc:
        print(f"kiosk hw: {exc}")
        return 1
    raise AssertionError(args.hw_command)


def _watch(settings: HardwareSettings, seconds: float) -> int:
    reader = open_card_reader(settings)
    done = threading.Event()

    def show(event: ReaderEvent) -> None:
        print(json.dumps({"at": dt.datetime.now().isoformat(timespec="seconds"), "status": event.status.value,
                          "reader": event.reader}), flush=True)

    reader.subscribe(show)
    show(ReaderEvent(reader.status(), None))
    try:
        if isinstance(reader, FakeCardReader):
            _simulate_a_visit(reader, done)
        done.wait(seconds if seconds > 0 else None)
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()
    return 0


def _simulate_a_visit(reader: FakeCardReader, done: threading.Event) -> None:
    """On the fake reader, a card comes and goes so the technician sees the events."""
    reader.insert_card(VirtualCard.of("test", CardAuthority().card_certificate(_DEMO_CODE)))
    reader.remove_card()
    reader.unplug()
    reader.plug()
    done.set()


def _read_card(settings: HardwareSettings, profile: str, state: Path | None, wait: float,
               save: Path | None = None) -> int:
    reader = open_card_reader(settings)
    try:
        anchors: list[x509.Certificate] = []
        day = dt.date.today()
        if isinstance(reader, FakeCardReader):
            ca = CardAuthority()
            anchors.append(ca.certificate)
            reader.insert_card(VirtualCard.of(profile, ca.card_certificate(_DEMO_CODE)))
        if state is not None:
            installed = Installed.open(state)
            anchors = installed.card_anchors()
            day = installed.config.day.to_gregorian()
        if not _await_card(reader, wait):
            print(json.dumps({"error": "no card", "status": reader.status().value}))
            return 1
        started = time.perf_counter()
        read = read_card(reader.transmit, PROFILES[profile], anchors, day)
        if save is not None:
            save.write_bytes(read.certificate.public_bytes(serialization.Encoding.DER))
        print(json.dumps({"national_code": read.national_code, "trusted": read.trusted,
                          "trust_problem": read.trust_problem, "issuer": read.certificate.issuer.rfc4514_string(),
                          "read_ms": round((time.perf_counter() - started) * 1000, 1)}, ensure_ascii=False))
        return 0
    finally:
        reader.close()


def _await_card(reader: CardReader, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while reader.status() is not ReaderStatus.CARD_PRESENT:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _print_test(settings: HardwareSettings, png: Path | None) -> int:
    """Both receipts with made-up values (no voter data exists on a receipt anyway)."""
    printer = open_printer(settings)
    if printer is None:
        print(json.dumps({"error": "no printer port given (--port) and not simulating"}))
        return 1
    now = dt.datetime.now()
    day = JalaliDate.from_gregorian(now.date())
    slips = {
        "checkin_slip": checkin_slip(branch_code="1001", branch_name="شعبه آزمایشی", day=day, at=now.time(),
                                     device_id="TEST", sequence=1),
        "escalation_ticket": escalation_ticket(case_id="E-TEST-0001", branch_code="1001",
                                               branch_name="شعبه آزمایشی", day=day, at=now.time(), queue_position=1),
    }
    with printer:
        before = printer.status()
        results = {name: printer.print_image(img).value for name, img in slips.items()}
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)
        for name, img in slips.items():
            img.save(png / f"{name}.png")
    print(json.dumps({"status_before": before.value, **results}))
    return 0 if all(r == PrintResult.PRINTED.value for r in results.values()) else 1


def _scan(settings: HardwareSettings, seconds: float) -> int:
    """Print each scanner event until Ctrl-C or `seconds`; on the fake, a few sample scans go by."""
    scanner = open_scanner(settings)
    if scanner is None:
        print(json.dumps({"error": "no scanner port given (--port) and not simulating"}))
        return 1

    def show(event: ScanEvent) -> None:
        match event:
            case Scanned():
                line: dict[str, object] = {"scanned": event.code}
            case Unusable():
                line = {"unusable": event.reason.value}
            case StatusChanged():
                line = {"status": event.status.value}
        print(json.dumps(line), flush=True)

    scanner.subscribe(show)
    scanner.start()
    try:
        if isinstance(scanner, FakeScanner):
            for sample in ("]C0" + _DEMO_CODE, "۰۰۰-۱۲۳۴۵۶-۰", "https://example.org/x", "0001234561"):
                scanner.scan(sample)
            time.sleep(0.2)
        else:
            threading.Event().wait(seconds if seconds > 0 else None)
    except KeyboardInterrupt:
        pass
    finally:
        scanner.close()
    return 0
