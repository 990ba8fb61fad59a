"""What a barcode scanner tells the kiosk: a closed status set, scan events, and the interface both drivers implement."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeAlias

from drivers.listeners import Broadcaster
from kiosk.logbook import Event, log



class ScannerStatus(Enum):
    """Whether scans can arrive; the UI shows one message per value."""

    READY = "ready"
    NO_SCANNER = "no_scanner"  # port absent or unplugged: plug it in
    ERROR = "error"  # port present but unusable (busy, not a serial device): call a technician


class ScanProblem(Enum):
    """Why a scan gave no national code; closed, so staff messages and counts stay exhaustive."""

    GARBAGE = "garbage"  # not clean text: invalid UTF-8 or control bytes (line noise, wrong baud rate)
    TOO_LONG = "too_long"  # more than max_frame bytes without a terminator
    NOT_A_NATIONAL_CODE = "not_a_national_code"  # text that is not just digits (a URL, a product label)
    WRONG_LENGTH = "wrong_length"  # only digits, but not ten of them (EAN-13, a phone number)
    INVALID_CHECKSUM = "invalid_checksum"  # ten digits whose check digit is wrong (misread or mistyped)
    INVALID_CODE = "invalid_code"  # ten digits the code rules never issue (all one digit, zero serial)


@dataclass(frozen=True, slots=True)
class Scanned:
    """A scan that carried a valid national code, as the canonical ten ASCII digits."""

    # Kept out of repr so that logging an event can never write a national code.
    code: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Unusable:
    """A scan that carried no national code; only the reason is kept, never the scanned text."""

    reason: ScanProblem


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The scanner was plugged, unplugged or failed; the first event after start() is always one of these."""

    status: ScannerStatus


ScanResult: TypeAlias = Scanned | Unusable
ScanEvent: TypeAlias = Scanned | Unusable | StatusChanged
Listener: TypeAlias = Callable[[ScanEvent], None]


class BarcodeScanner(Protocol):
    """A barcode scanner as the kiosk sees it; events arrive on the driver's own thread."""

    def status(self) -> ScannerStatus:
        """The current status (what the last StatusChanged said)."""
        ...

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback` with every event from now on; returns a function that unsubscribes."""
        ...

    def start(self) -> None:
        """Start the driver's thread; idempotent."""
        ...

    def close(self) -> None:
        """Stop the thread and release the port; idempotent, and no events follow it."""
        ...


class EventHub:
    """Listeners and status shared by the real and fake scanner, so both deliver events alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: Broadcaster[ScanEvent] = Broadcaster("scanner")
        self._status = ScannerStatus.NO_SCANNER

    def status(self) -> ScannerStatus:
        """The current status."""
        with self._lock:
            return self._status

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Add a listener; the same callable may be subscribed twice and removed once."""
        return self._listeners.subscribe(callback)

    def set_status(self, status: ScannerStatus, *, always: bool = False, quiet: bool = False) -> None:
        """Record a status and announce it when it changed (`always`: the first one; `quiet`: after close)."""
        with self._lock:
            changed = status is not self._status
            self._status = status
        if (changed or always) and not quiet:
            log(Event.SCANNER_STATUS, status=status.value)
            self.emit(StatusChanged(status))

    def emit(self, event: ScanEvent) -> None:
        """Deliver one event to every listener; a failing listener does not stop the others or the thread."""
        self._listeners.emit(event)
