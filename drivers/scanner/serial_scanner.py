"""The real barcode scanner: a USB-CDC (or RS-232) serial port read by the driver's own thread, with reconnect."""
from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable

import serial

from kiosk.logbook import Event, log

from .events import EventHub, Listener, ScannerStatus
from .frames import DEFAULT_MAX_FRAME, DEFAULT_TERMINATORS, FrameParser


# Short enough that close() returns promptly, long enough not to spin on an idle port.
READ_TIMEOUT = 0.1
# Open errors that mean "nothing is plugged in there"; any other failure is a fault to report.
_ABSENT = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO})


class SerialScanner:
    """A scanner on a serial port; frames end in CR, LF or CRLF (configurable) and become scan events."""

    def __init__(self, port: str, baudrate: int = 9600, terminators: bytes = DEFAULT_TERMINATORS,
                 max_frame: int = DEFAULT_MAX_FRAME, reconnect_interval: float = 0.5) -> None:
        if baudrate not in serial.Serial.BAUDRATES:
            raise ValueError("unsupported baud rate")
        if reconnect_interval <= 0:
            raise ValueError("reconnect_interval must be positive")
        self._port = port
        self._baudrate = baudrate
        self._reconnect_interval = reconnect_interval
        self._parser = FrameParser(terminators, max_frame)
        self._hub = EventHub()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Guards the open port between the reader (which closes it) and close() (which wakes its read).
        self._port_lock = threading.Lock()
        self._open_port: serial.Serial | None = None

    def status(self) -> ScannerStatus:
        """READY, NO_SCANNER (also before start and after close) or ERROR."""
        return self._hub.status()

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Receive events on the reader thread; returns the unsubscribe function."""
        return self._hub.subscribe(callback)

    def start(self) -> None:
        """Start reading; the first event is the StatusChanged of the first open attempt."""
        with self._start_lock:
            if self._stop.is_set():
                raise RuntimeError("scanner already closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scanner-reader", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the reader thread and release the port; safe to call twice or from a listener."""
        with self._start_lock:
            self._stop.set()
            thread = self._thread
        with self._port_lock:
            if self._open_port is not None:
                self._open_port.cancel_read()  # return from the blocking read now, not at its timeout
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self) -> None:
        """Open, read until the port fails, then retry every reconnect_interval until closed."""
        first = True
        while not self._stop.is_set():
            port, status = self._open()
            self._hub.set_status(status, always=first)
            first = False
            if port is None:
                self._stop.wait(self._reconnect_interval)
                continue
            try:
                status = self._read_until_gone(port)
            except Exception as exc:  # noqa: BLE001 - a bug must show as ERROR, not as a dead thread
                log(Event.SCANNER_READ_FAILED, error=type(exc).__name__)
                status = ScannerStatus.ERROR
            finally:
                with self._port_lock:
                    self._open_port = None
                    port.close()
            if not self._stop.is_set():
                self._hub.set_status(status)
                self._stop.wait(self._reconnect_interval)
        self._hub.set_status(ScannerStatus.NO_SCANNER, quiet=True)

    def _open(self) -> tuple[serial.Serial | None, ScannerStatus]:
        """The open port and READY, or None and why it could not be opened."""
        try:
            # exclusive: a second reader (the bench tool beside the kiosk) would steal half the bytes.
            port = serial.serial_for_url(self._port, baudrate=self._baudrate, timeout=READ_TIMEOUT, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            return None, _status_for(exc)
        self._parser.reset()
        with self._port_lock:
            self._open_port = port
        return port, ScannerStatus.READY

    def _read_until_gone(self, port: serial.Serial) -> ScannerStatus:
        """Deliver events until close() or until the port fails; returns the status to report then."""
        last_check = time.monotonic()
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError):
                # On a tty a failed read is a hang-up (EIO, or "returned no data"): the cable is out.
                # Whatever it was, the reopen attempts that follow will tell.
                return ScannerStatus.NO_SCANNER
            for result in self._parser.feed(data):
                self._hub.emit(result)
            now = time.monotonic()
            if now - last_check >= self._reconnect_interval:
                last_check = now
                # A device node (or its udev symlink) that vanished means unplugged, even if
                # the old descriptor has not failed yet.
                if self._port.startswith("/") and not os.path.exists(self._port):
                    return ScannerStatus.NO_SCANNER
        return ScannerStatus.NO_SCANNER


def _status_for(exc: BaseException) -> ScannerStatus:
    """Why a port would not open: NO_SCANNER when nothing is there, ERROR for every other failure."""
    return ScannerStatus.NO_SCANNER if getattr(exc, "errno", None) in _ABSENT else ScannerStatus.ERROR
