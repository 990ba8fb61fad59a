"""The receipt printer: a small interface with a closed status set, ESC/POS over serial, and a fake.

Cheap 58 mm printers have no Persian code page, so receipts go as raster
images (drivers.receipts draws them). Paper out and offline are values the
caller matches on, never exceptions; PrinterError is left for misuse.
"""
from __future__ import annotations

import errno
import logging
import termios
import threading
from abc import ABC, abstractmethod
from enum import Enum
from types import TracebackType
from typing import Self, assert_never

import serial
from PIL import Image

# python-escpos calls logging.basicConfig() when imported: that root handler would echo the appliance's
# own log lines (meant for the journal and the audit log) onto a technician's terminal. Undo it.
_ROOT_HANDLERS = list(logging.root.handlers)
from escpos.constants import RT_STATUS_ONLINE, RT_STATUS_PAPER  # noqa: E402
from escpos.printer import Dummy  # noqa: E402

for _added in [h for h in logging.root.handlers if h not in _ROOT_HANDLERS]:
    logging.root.removeHandler(_added)

from drivers.errors import PrinterError
from drivers.receipts import WIDTH_58MM
from kiosk.logbook import Event, log


class PrinterStatus(Enum):
    """What the printer can be: the UI shows one message per value."""

    READY = "ready"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"  # port gone, or no answer within the timeout
    ERROR = "error"  # answered, but cannot print (cover open, cutter jam, garbled answer, port busy)


class PrintResult(Enum):
    """The outcome of one job; anything but PRINTED means nothing was sent (or the job was cut short)."""

    PRINTED = "printed"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    ERROR = "error"


def result_for(status: PrinterStatus) -> PrintResult:
    """Why a job was not sent, given the status that stopped it."""
    match status:
        case PrinterStatus.READY:
            return PrintResult.PRINTED
        case PrinterStatus.PAPER_OUT:
            return PrintResult.PAPER_OUT
        case PrinterStatus.OFFLINE:
            return PrintResult.OFFLINE
        case PrinterStatus.ERROR:
            return PrintResult.ERROR
        case _:
            assert_never(status)


class ReceiptPrinter(ABC):
    """A receipt printer as the kiosk sees it: ask its status, print an image, let go of it."""

    width_px: int

    @abstractmethod
    def status(self) -> PrinterStatus:
        """Ask the printer now (no cached answer)."""

    @abstractmethod
    def print_image(self, img: Image.Image) -> PrintResult:
        """Print one receipt image and cut; checks the status first so a job never vanishes into an empty printer."""

    @abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""

    def _check_width(self, img: Image.Image) -> None:
        if img.width > self.width_px:
            raise ValueError(f"image is {img.width} px wide; the paper takes {self.width_px}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


# Real-time status (DLE EOT n), answered with one byte even while the printer is offline.
# Every answer byte has bits 1 and 4 set and bits 0 and 7 clear; anything else is line noise
# (wrong baud rate, another device on the port).
_FIXED_MASK = 0b1001_0011
_FIXED_BITS = 0b0001_0010
_OFFLINE_BIT = 0b0000_1000  # n=1 (printer status), bit 3: offline (cover open, paper out, feed button held)
_PAPER_END_BITS = 0b0110_0000  # n=4 (paper sensor), bits 5 and 6: paper end
# n=4 bits 2 and 3 (0b0000_1100) mean "paper near end": still READY, the roll will last a few slips.


def decode_status(printer: int, paper: int) -> PrinterStatus:
    """The status from the answers to DLE EOT 1 and DLE EOT 4."""
    if (printer & _FIXED_MASK) != _FIXED_BITS or (paper & _FIXED_MASK) != _FIXED_BITS:
        return PrinterStatus.ERROR
    if paper & _PAPER_END_BITS:
        return PrinterStatus.PAPER_OUT  # checked first: paper end also sets the offline bit
    if printer & _OFFLINE_BIT:
        return PrinterStatus.ERROR
    return PrinterStatus.READY


def escpos_job(img: Image.Image, width_px: int = WIDTH_58MM) -> bytes:
    """The bytes of one job: initialise, the image as GS v 0 raster, feed and full cut.

    python-escpos builds the protocol. Its default profile is used because it
    declares a cutter (the 58 mm profiles in its database declare none, and
    its `cut()` then sends only a feed); the paper width is set on this
    instance's copy of the profile, since with "Unknown" width escpos prints a
    notice on stdout for every image.
    """
    job = Dummy()
    job.profile.profile_data = {
        **job.profile.profile_data,
        "media": {"dpi": 203, "width": {"mm": "Unknown", "pixels": width_px}},
    }
    job.hw("INIT")
    job.image(img, impl="bitImageRaster")
    job.cut()
    data: bytes = job.output
    return data


# Why not escpos.printer.Serial? Tried on a pty: it prints fine, but its status
# read asks for 16 bytes and so waits the full timeout even when the printer has
# answered its one byte; its paper_status() reports "paper adequate" when
# nothing answers at all; and its close() calls flush() (tcdrain), which raises
# termios.error once the port has vanished, also from __del__. So escpos builds
# the bytes (Dummy) and this class owns the pyserial port, the timeouts and the
# error translation.
_PORT_FAILURES = (serial.SerialException, OSError, termios.error)
_NEEDS_TECHNICIAN = {errno.EACCES, errno.EPERM, errno.EBUSY, errno.EAGAIN}


class SerialEscposPrinter(ReceiptPrinter):
    """An ESC/POS printer on a serial port (USB-CDC or UART): raster receipts, DLE EOT status."""

    def __init__(
        self, port: str, baudrate: int = 9600, timeout: float = 0.5, width_px: int = WIDTH_58MM
    ) -> None:
        self.port = port
        self.width_px = width_px
        self._baudrate = baudrate
        self._timeout = timeout
        self._serial: serial.Serial | None = None
        self._closed = False
        self._lock = threading.Lock()  # a UI status poll must not interleave with a job

    def status(self) -> PrinterStatus:
        """Ask the printer with DLE EOT 1 and 4; OFFLINE within about `timeout` if it stays silent."""
        with self._lock:
            return self._status()

    def print_image(self, img: Image.Image) -> PrintResult:
        """Send one image as a raster job with a cut, if the printer says it is ready."""
        self._check_width(img)
        job = escpos_job(img, self.width_px)
        with self._lock:
            status = self._status()
            if status is not PrinterStatus.READY or self._serial is None:
                result = result_for(status)
            else:
                result = self._send(self._serial, job)
        if result is not PrintResult.PRINTED:
            log(Event.PRINT_NOT_DONE, result=result.value)
        return result

    def close(self) -> None:
        """Close the port; the object cannot be used afterwards."""
        with self._lock:
            self._closed = True
            self._drop()

    def _status(self) -> PrinterStatus:
        port = self._connect()
        if isinstance(port, PrinterStatus):
            return port
        try:
            port.reset_input_buffer()  # a late answer to an earlier, timed-out query must not be read as this one
            printer = self._ask(port, RT_STATUS_ONLINE)
            paper = self._ask(port, RT_STATUS_PAPER) if printer is not None else None
        except _PORT_FAILURES:
            self._drop()  # unplugged: reopen on the next call, when it may be back
            return PrinterStatus.OFFLINE
        if printer is None or paper is None:
            return PrinterStatus.OFFLINE
        return decode_status(printer, paper)

    def _ask(self, port: serial.Serial, query: bytes) -> int | None:
        """Send one real-time query; its one-byte answer, or None after `timeout`."""
        port.write(query)
        answer: bytes = port.read(1)
        return answer[0] if answer else None

    def _send(self, port: serial.Serial, job: bytes) -> PrintResult:
        # At 9600 baud a receipt takes tens of seconds on a real UART; allow
        # twice the line time, so only a printer that stopped taking data trips it.
        port.write_timeout = self._timeout + 2 * len(job) * 10 / self._baudrate
        try:
            port.write(job)
            port.write_timeout = self._timeout  # status queries keep the short bound
        except serial.SerialTimeoutException:
            # The printer stopped mid-job; drop the unsent rest so it is not
            # delivered later as the middle of nothing. The printer itself may
            # still wait for raster bytes: an OFFLINE job is one to reprint
            # after a technician has looked at the printer.
            try:
                port.reset_output_buffer()
                port.write_timeout = self._timeout
            except _PORT_FAILURES:
                self._drop()
            return PrintResult.OFFLINE
        except _PORT_FAILURES:
            self._drop()
            return PrintResult.OFFLINE
        return PrintResult.PRINTED

    def _connect(self) -> serial.Serial | PrinterStatus:
        """The open port, opening it if needed; a status when it cannot be opened."""
        if self._closed:
            raise PrinterError("printer used after close()")
        if self._serial is not None:
            return self._serial
        try:
            # exclusive: a bench tool and the kiosk must not interleave jobs on one printer
            self._serial = serial.Serial(
                self.port, self._baudrate, timeout=self._timeout, write_timeout=self._timeout, exclusive=True
            )
        except _PORT_FAILURES as exc:
            # Present but refused (permissions, held by another program) needs a technician; absent is offline.
            if getattr(exc, "errno", None) in _NEEDS_TECHNICIAN:
                return PrinterStatus.ERROR
            return PrinterStatus.OFFLINE
        return self._serial

    def _drop(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except _PORT_FAILURES:
                pass  # already gone; there is nothing left to release


class FakePrinter(ReceiptPrinter):
    """The printer interface in memory, with controls for tests and `--simulate`."""

    def __init__(self, width_px: int = WIDTH_58MM) -> None:
        self.width_px = width_px
        self.printed: list[Image.Image] = []
        self._status = PrinterStatus.READY
        self._closed = False
        self._lock = threading.Lock()

    def status(self) -> PrinterStatus:
        """The status the test last set."""
        with self._lock:
            self._check_open()
            return self._status

    def print_image(self, img: Image.Image) -> PrintResult:
        """Keep a copy of the image in `printed` when READY; otherwise the matching result."""
        self._check_width(img)
        with self._lock:
            self._check_open()
            if self._status is PrinterStatus.READY:
                self.printed.append(img.copy())
            return result_for(self._status)

    def close(self) -> None:
        """Mark the fake closed, as the real one would be."""
        self._closed = True

    def set_paper_out(self) -> None:
        """The roll ran out."""
        self._status = PrinterStatus.PAPER_OUT

    def load_paper(self) -> None:
        """A new roll went in."""
        self._status = PrinterStatus.READY

    def go_offline(self) -> None:
        """Unplugged or switched off."""
        self._status = PrinterStatus.OFFLINE

    def go_online(self) -> None:
        """Plugged back in."""
        self._status = PrinterStatus.READY

    def fail(self) -> None:
        """Cover open, cutter jam: answers, but cannot print."""
        self._status = PrinterStatus.ERROR

    def _check_open(self) -> None:
        if self._closed:
            raise PrinterError("printer used after close()")
