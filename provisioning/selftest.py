"""`kiosk-provision selftest`: the technician's last look at a provisioned device's hardware before the election.

Each item ends as PASS, FAIL or SKIPPED with a one-line reason, so a
technician can fix what failed without reading a log. A check that meets a
driver error reports it as its own FAIL and the run goes on. Nothing printed
here carries a national code or a name: the test card's code is read and
dropped.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import ParamSpec, TypeVar, assert_never

from drivers.card.fake import FAKE_READER, FakeCardReader
from drivers.card.pcsc import PcscReader, list_readers
from drivers.card.profiles import PROFILES, read_card
from drivers.card.reader import CardReader, ReaderStatus
from drivers.errors import DriverError, ReaderError
from drivers.hardware import HardwareSettings, open_card_reader, open_printer, open_scanner
from drivers.printer import PrinterStatus, PrintResult, ReceiptPrinter
from drivers.receipts import render, selftest_layout
from drivers.scanner import BarcodeScanner, ScanEvent, ScannerStatus, StatusChanged
from kiosk.core.jalali import TEHRAN, JalaliDate
from kiosk.logbook import Event, log
from kiosk.state import Installed, StateRefused
from kiosk.trust import certs, manifest

# How long a real reader or scanner may take to report its first status after being opened.
SETTLE_SECONDS = 3.0
# A clock this far past the election day is wrong (or the device holds last election's package).
LATE_DAYS = 30
# No election is provisioned two years ahead: a day further off is a wrong clock or a wrong election
# date (a Gregorian year taken as a Jalali one puts the election six centuries away).
EARLY_DAYS = 730
_PROBE_BYTES = 64 * 1024
_MB = 1024 * 1024
# Failures a check turns into its own FAIL (serial.SerialException is an OSError; ValueError
# covers a bad baud rate, a malformed manifest date; KeyError and TypeError a manifest without one).
_FAILURES = (DriverError, OSError, termios.error, ValueError, KeyError, TypeError)

P = ParamSpec("P")
D = TypeVar("D")
S = TypeVar("S")


class Outcome(Enum):
    """How one item of the self-test ended."""

    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """One item's outcome and the one-line reason a technician acts on."""

    item: str
    outcome: Outcome
    detail: str


def run_selftest(state: Path, settings: HardwareSettings, now: dt.datetime | None = None, card_wait: float = 3.0,
                 min_free_mb: int = 200) -> list[Check]:
    """Every item in order; StateRefused when the device has no installed package (nothing to test against).

    `now` defaults to the device's clock; a naive `now` is read as local time.
    """
    installed = Installed.open(state)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    checks: list[Check] = []
    with ExitStack() as devices:
        reader = _open("reader", open_card_reader, settings, devices)
        if isinstance(reader, Check):
            checks += [reader, Check("card", Outcome.SKIPPED, "no reader to read a card with")]
        else:
            checks.append(_guard("reader", check_reader, reader, settings.reader))
            checks.append(Check("card", Outcome.SKIPPED, "no reader to read a card with")
                          if checks[-1].outcome is Outcome.FAIL
                          else _guard("card", check_card, reader, installed, settings.card_profile, card_wait))
        scanner = _open("scanner", open_scanner, settings, devices)
        port = "simulated scanner" if settings.simulate else str(settings.scanner_port)
        checks.append(scanner if isinstance(scanner, Check) else _guard("scanner", check_scanner, scanner, port))
        printer = _open("printer", open_printer, settings, devices)
        checks.append(printer if isinstance(printer, Check)
                      else _guard("printer", check_printer, printer, installed.claims.device_id, now))
    checks.append(_guard("storage", check_storage, state, min_free_mb))
    checks.append(_guard("clock", check_clock, installed, now))
    checks.append(_guard("package", check_package, installed))
    return checks


def failed(checks: list[Check]) -> int:
    """How many items failed: the command exits 1 when this is not zero."""
    return sum(1 for c in checks if c.outcome is Outcome.FAIL)


# -- the items --------------------------------------------------------------------------------

def check_reader(reader: CardReader, prefer: str | None = None) -> Check:
    """PASS with the reader's name; FAIL when PC/SC is down, no reader is connected, or none matches `prefer`."""
    if isinstance(reader, PcscReader):
        try:
            names = list_readers()
        except ReaderError as exc:
            return Check("reader", Outcome.FAIL, f"{exc} (is pcscd running?)")
        if not names:
            return Check("reader", Outcome.FAIL, "PC/SC sees no reader: plug in the card reader")
        if prefer and not any(prefer in n for n in names):
            return Check("reader", Outcome.FAIL, f"no reader named like {prefer!r}; PC/SC sees: {', '.join(names)}")
    if _reported(reader) is ReaderStatus.NO_READER:
        return Check("reader", Outcome.FAIL, "no card reader is connected")
    return Check("reader", Outcome.PASS, _reader_name(reader))


def check_card(reader: CardReader, installed: Installed, profile: str = "iran-nid", wait: float = 3.0) -> Check:
    """Read a test card, if one is inserted within `wait` seconds, and judge it against the election's anchors.

    The national code the card carries is never part of the result: only
    screens serving a voter may show it.
    """
    if profile not in PROFILES:
        return Check("card", Outcome.FAIL, f"unknown card profile {profile!r}")
    _reported(reader)
    status = _settled(reader.status, ReaderStatus.NO_CARD, wait)
    match status:
        case ReaderStatus.NO_READER:
            return Check("card", Outcome.SKIPPED, "no reader to read a card with")
        case ReaderStatus.NO_CARD:
            return Check("card", Outcome.SKIPPED, f"no test card in the reader (waited {wait:g} s)")
        case ReaderStatus.CARD_ERROR:
            return Check("card", Outcome.FAIL, "the card in the reader does not answer (mute, dirty, or upside down)")
        case ReaderStatus.CARD_PRESENT:
            pass
        case _:
            assert_never(status)
    try:
        anchors = installed.card_anchors()
    except (OSError, certs.CertificateRefused):
        return Check("card", Outcome.FAIL, "the election's card trust anchors cannot be read from the package")
    started = time.perf_counter()
    try:
        read = read_card(reader.transmit, PROFILES[profile], anchors, installed.config.day.to_gregorian())
    except DriverError as exc:
        return Check("card", Outcome.FAIL, f"test card unreadable: {exc} (profile {profile})")
    ms = (time.perf_counter() - started) * 1000
    if not read.trusted:
        problem = read.trust_problem if anchors else "the election package carries no card trust anchors"
        return Check("card", Outcome.FAIL, f"test card read but not trusted: {problem} (profile {profile})")
    return Check("card", Outcome.PASS, f"test card read and trusted (profile {profile}, {ms:.0f} ms)")


def check_scanner(scanner: BarcodeScanner | None, port: str) -> Check:
    """PASS when the scanner's port opens (no scan is awaited); SKIPPED when no scanner is configured."""
    if scanner is None:
        return Check("scanner", Outcome.SKIPPED, "no scanner port configured")
    first: list[ScannerStatus] = []

    def note(event: ScanEvent) -> None:
        if isinstance(event, StatusChanged) and not first:
            first.append(event.status)

    scanner.subscribe(note)
    scanner.start()  # its first event is the outcome of the first attempt to open the port
    deadline = time.monotonic() + SETTLE_SECONDS
    while not first and time.monotonic() < deadline:
        time.sleep(0.02)
    if not first:
        return Check("scanner", Outcome.FAIL, f"{port}: no answer from the scanner driver")
    match first[0]:
        case ScannerStatus.READY:
            return Check("scanner", Outcome.PASS, f"{port} opens")
        case ScannerStatus.NO_SCANNER:
            return Check("scanner", Outcome.FAIL, f"{port}: no such device (unplugged, or the wrong port)")
        case ScannerStatus.ERROR:
            return Check("scanner", Outcome.FAIL,
                         f"{port} cannot be opened (in use by another program, no permission, or not serial)")
        case _:
            assert_never(first[0])


def check_printer(printer: ReceiptPrinter | None, device_id: str, now: dt.datetime) -> Check:
    """Ask the printer's status and print a short test receipt; SKIPPED when no printer is configured."""
    if printer is None:
        return Check("printer", Outcome.SKIPPED, "no printer port configured")
    status = printer.status()
    if status is not PrinterStatus.READY:
        return Check("printer", Outcome.FAIL, f"not ready: {_printer_problem(status)}")
    tehran = now.astimezone(TEHRAN)
    receipt = render(selftest_layout(device_id, JalaliDate.from_gregorian(tehran.date()), tehran.time()),
                     printer.width_px)
    result = printer.print_image(receipt)
    if result is not PrintResult.PRINTED:
        return Check("printer", Outcome.FAIL, f"test receipt not printed: {_printer_problem(result)}")
    return Check("printer", Outcome.PASS, "test receipt printed: check it is readable and cut")


def check_storage(folder: Path, min_free_mb: int = 200) -> Check:
    """Write, fsync, read back and delete a file in `folder`; FAIL when that fails or free space is short."""
    payload = os.urandom(_PROBE_BYTES)
    try:
        fd, name = tempfile.mkstemp(prefix=".selftest-", dir=folder)
        probe = Path(name)
        try:
            with open(fd, "wb") as f:
                f.write(payload)
                f.flush()
                started = time.perf_counter()
                os.fsync(f.fileno())
                fsync_ms = (time.perf_counter() - started) * 1000
            same = probe.read_bytes() == payload
        finally:
            probe.unlink(missing_ok=True)
        free_mb = shutil.disk_usage(folder).free // _MB
    except OSError as exc:
        return Check("storage", Outcome.FAIL, f"cannot write in {folder}: {exc.strerror or exc}")
    if not same:
        return Check("storage", Outcome.FAIL, f"a file written in {folder} read back different: replace the card")
    figures = f"fsync {fsync_ms:.1f} ms, {free_mb} MB free"
    if free_mb < min_free_mb:
        return Check("storage", Outcome.FAIL, f"{figures}: below the {min_free_mb} MB the ledger needs")
    return Check("storage", Outcome.PASS, f"write, fsync and read-back OK; {figures}")


def check_clock(installed: Installed, now: dt.datetime) -> Check:
    """FAIL when the clock is before the package was built (a Pi without RTC), or far from the election day."""
    signed = json.loads((installed.package_dir / manifest.MANIFEST).read_bytes())
    built = dt.datetime.fromisoformat(str(signed["created"]))
    tehran = now.astimezone(TEHRAN)
    shown = f"{JalaliDate.from_gregorian(tehran.date())} {tehran:%H:%M} Tehran"
    election = installed.config.day
    if now < built:
        return Check("clock", Outcome.FAIL, f"reads {shown}, before the package was built "
                                            f"({built.astimezone(TEHRAN):%Y-%m-%d %H:%M} Tehran): set the clock")
    days = (tehran.date() - election.to_gregorian()).days
    if days < -EARLY_DAYS:
        return Check("clock", Outcome.FAIL, f"reads {shown}, about {-days // 365} years before the election day "
                                            f"{election}: set the clock, or check the election's date")
    if days > EARLY_DAYS:
        return Check("clock", Outcome.FAIL, f"reads {shown}, about {days // 365} years after the election day "
                                            f"{election}: set the clock, or install this election's package")
    if days > LATE_DAYS:
        return Check("clock", Outcome.FAIL, f"reads {shown}, {days} days after the election day {election}: "
                                            "set the clock, or install this election's package")
    if days == 0:
        return Check("clock", Outcome.PASS, f"{shown}: today is the election day")
    when = f"in {-days} days" if days < 0 else f"{days} days ago"
    return Check("clock", Outcome.PASS, f"{shown}: not the election day ({election}, {when})")


def check_package(installed: Installed) -> Check:
    """Re-hash every installed file against the signed manifest."""
    problem = installed.verify_files()
    if problem is not None:
        return Check("package", Outcome.FAIL, f"{problem}: reinstall the package")
    return Check("package", Outcome.PASS, f"election {installed.config.id}: every file matches the signed manifest")


# -- the command ------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kiosk-provision selftest`."""
    parser.add_argument("--state", type=Path, required=True, help="the device's state folder")
    parser.add_argument("--simulate", action="store_true", help="test the fake devices")
    parser.add_argument("--reader", help="use the first reader whose name contains this")
    parser.add_argument("--card-profile", choices=sorted(PROFILES), default="iran-nid")
    parser.add_argument("--scanner-port", help="the scanner's serial port (none: no scanner attached)")
    parser.add_argument("--scanner-baud", type=int, default=9600)
    parser.add_argument("--printer-port", help="the printer's serial port (none: no printer attached)")
    parser.add_argument("--printer-baud", type=int, default=9600)
    parser.add_argument("--card-wait", type=float, default=3.0, help="seconds to wait for a test card")
    parser.add_argument("--min-free-mb", type=int, default=200, help="free space the state folder needs")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")


def selftest_main(args: argparse.Namespace) -> int:
    """Run the self-test and print one line per item; 0 when nothing failed, 1 otherwise."""
    settings = HardwareSettings(simulate=args.simulate, reader=args.reader, card_profile=args.card_profile,
                                scanner_port=args.scanner_port, scanner_baud=args.scanner_baud,
                                printer_port=args.printer_port, printer_baud=args.printer_baud)
    try:
        checks = run_selftest(args.state, settings, card_wait=max(0.0, args.card_wait), min_free_mb=args.min_free_mb)
    except StateRefused as exc:
        print(f"kiosk-provision: {exc}", file=sys.stderr)
        return 1
    count = failed(checks)
    log(Event.SELFTEST_DONE, failed=count, items=" ".join(f"{c.item}:{c.outcome.value}" for c in checks))
    if args.json:
        print(json.dumps({"checks": [{**asdict(c), "outcome": c.outcome.value} for c in checks], "failed": count},
                         ensure_ascii=False, indent=1))
    else:
        width = max(len(c.item) for c in checks)
        for c in checks:
            print(f"{c.outcome.name:<7}  {c.item:<{width}}  {c.detail}")
        print("self-test passed" if count == 0 else f"self-test FAILED: {count} item(s)")
    return 0 if count == 0 else 1


# -- helpers ----------------------------------------------------------------------------------

def _guard(item: str, check: Callable[P, Check], *args: P.args, **kwargs: P.kwargs) -> Check:
    """Run one check; a device or file failure it did not expect becomes its FAIL, not the end of the run."""
    try:
        return check(*args, **kwargs)
    except _FAILURES as exc:
        return Check(item, Outcome.FAIL, f"{type(exc).__name__}: {exc}")


def _open(item: str, opener: Callable[[HardwareSettings], D], settings: HardwareSettings,
          devices: ExitStack) -> D | Check:
    """Open a device and have `devices` close it; a failure to open is the item's FAIL."""
    try:
        device = opener(settings)
    except _FAILURES as exc:
        return Check(item, Outcome.FAIL, f"cannot open: {exc}")
    close = getattr(device, "close", None)
    if callable(close):
        devices.callback(close)
    return device


def _settled(status: Callable[[], S], waiting: S, seconds: float) -> S:
    """The status once it is no longer `waiting`, or `waiting` after `seconds`."""
    deadline = time.monotonic() + seconds
    while (now := status()) == waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    return now


def _reported(reader: CardReader) -> ReaderStatus:
    """The reader's status, once a PC/SC reader's monitor thread has had time to report its first one."""
    if isinstance(reader, PcscReader):
        return _settled(reader.status, ReaderStatus.NO_READER, SETTLE_SECONDS)
    return reader.status()


def _reader_name(reader: CardReader) -> str:
    if isinstance(reader, PcscReader):
        return reader.reader_name() or "PC/SC reader"
    if isinstance(reader, FakeCardReader):
        return f"{FAKE_READER} (simulated)"
    return type(reader).__name__


_PROBLEMS = {
    "paper_out": "out of paper",
    "offline": "offline (unplugged, switched off, or not answering)",
    "error": "cannot print (cover open, cutter jam, or port in use)",
}


def _printer_problem(status: PrinterStatus | PrintResult) -> str:
    value = str(status.value)
    return _PROBLEMS.get(value, value)
