"""The fake card reader: the real interface plus test controls, with a virtual card inside.

Commands go to the same VirtualCard the vpcd card process serves, so the fake
and the real stack answer alike. Events are delivered on the calling thread
of the test control (there is no hardware to watch).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from drivers.card.reader import Listener, Listeners, ReaderStatus
from drivers.card.virtual import VirtualCard
from drivers.errors import CardError

FAKE_READER = "Fake Reader 00"


class FakeCardReader:
    """An in-process reader: plug(), unplug(), insert_card(), remove_card()."""

    def __init__(self, plugged: bool = True) -> None:
        self._events = Listeners(ReaderStatus.NO_CARD if plugged else ReaderStatus.NO_READER)
        if plugged:
            self._events.set(ReaderStatus.NO_CARD, FAKE_READER)
        self._card: VirtualCard | None = None
        self._lock = threading.Lock()

    def status(self) -> ReaderStatus:
        """The current status."""
        return self._events.status

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Status changes."""
        return self._events.subscribe(listener)

    def transmit(self, command: bytes, timeout: float = 3.0) -> bytes:
        """Ask the virtual card; the same errors as the real reader for a slow, pulled or absent card."""
        with self._lock:
            card = self._card
        if card is None or self._events.status is not ReaderStatus.CARD_PRESENT:
            raise CardError("no card in the reader")
        if card.misbehave.delay > timeout:
            time.sleep(timeout)
            self._events.set(ReaderStatus.CARD_ERROR, FAKE_READER)
            raise CardError("card did not answer in time")
        if card.pulled():
            self.remove_card()
            raise CardError("card was removed during the read")
        return card.respond(command)

    def close(self) -> None:
        """Nothing to release."""

    # -- test controls ---------------------------------------------------------------
    def plug(self) -> None:
        """Connect the reader (empty)."""
        self._events.set(ReaderStatus.NO_CARD, FAKE_READER)

    def unplug(self) -> None:
        """Pull the reader out, card and all."""
        with self._lock:
            self._card = None
        self._events.set(ReaderStatus.NO_READER, None)

    def insert_card(self, card: VirtualCard) -> None:
        """Put a card in the reader (the reader must be plugged)."""
        if self._events.status is ReaderStatus.NO_READER:
            raise CardError("no reader to insert a card into")
        card.reset()
        with self._lock:
            self._card = card
        self._events.set(ReaderStatus.CARD_PRESENT, FAKE_READER)

    def replace_card(self, card: VirtualCard) -> None:
        """Take out whatever card is in, then insert `card`: a new insertion, as in a real reader."""
        self.remove_card()
        self.insert_card(card)

    def remove_card(self) -> None:
        """Take the card out."""
        with self._lock:
            self._card = None
        if self._events.status is not ReaderStatus.NO_READER:
            self._events.set(ReaderStatus.NO_CARD, FAKE_READER)
