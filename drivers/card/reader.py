"""The card-reader interface: a closed status set, events on the driver's thread, transmit with a timeout."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from drivers.listeners import Broadcaster
from kiosk.logbook import Event, log


class ReaderStatus(Enum):
    """Everything a reader can be, as staff and the core see it."""

    NO_READER = "no_reader"
    NO_CARD = "no_card"
    CARD_PRESENT = "card_present"
    CARD_ERROR = "card_error"


@dataclass(frozen=True, slots=True)
class ReaderEvent:
    """A status change, with the reader's name when there is one."""

    status: ReaderStatus
    reader: str | None = None


Listener = Callable[[ReaderEvent], None]


class CardReader(Protocol):
    """What the kiosk needs from a smart-card reader, real or fake."""

    def status(self) -> ReaderStatus:
        """The current status."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on every status change (on the driver's thread); returns an unsubscribe."""
        ...

    def transmit(self, command: bytes, timeout: float = 3.0) -> bytes:
        """Send one command APDU and return the response APDU; CardError when there is none."""
        ...

    def close(self) -> None:
        """Stop the driver's threads and release the reader."""
        ...


class Listeners:
    """Subscribers and the current status, shared by the real and the fake reader."""

    def __init__(self, initial: ReaderStatus) -> None:
        self._lock = threading.Lock()
        self._listeners: Broadcaster[ReaderEvent] = Broadcaster("card reader")
        self._status = initial
        self._reader: str | None = None

    @property
    def status(self) -> ReaderStatus:
        """The last status set."""
        return self._status

    @property
    def reader(self) -> str | None:
        """The reader the status is about."""
        return self._reader

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; the returned function removes it."""
        return self._listeners.subscribe(listener)

    def set(self, status: ReaderStatus, reader: str | None) -> None:
        """Record a status and tell every listener, only when it changed."""
        with self._lock:
            if (status, reader) == (self._status, self._reader):
                return
            self._status, self._reader = status, reader
        log(Event.READER_STATUS, status=status.value, reader=reader or "")
        self._listeners.emit(ReaderEvent(status, reader))
