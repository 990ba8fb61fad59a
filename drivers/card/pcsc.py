"""The real card reader: PC/SC through pyscard's low-level API, with threads this driver owns.

A monitor thread follows readers and cards with SCardGetStatusChange (250 ms
slices, cancelled on close). Commands go through one transmit thread that owns
its own PC/SC context and card handle, so a card that never answers costs a
timeout, not a hung screen. Every PC/SC failure becomes a ReaderError or a
CardError; absence of a reader or a card is a status.
"""
from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

from smartcard import scard

from drivers.card.reader import Listener, Listeners, ReaderStatus
from drivers.errors import CardError, ReaderError

_SLICE_MS = 250
_REMOVED = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD,
            scard.SCARD_W_UNPOWERED_CARD, scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_UNKNOWN_READER}


def _message(hresult: int) -> str:
    return str(scard.SCardGetErrorMessage(hresult)).strip()


def list_readers() -> list[str]:
    """The readers PC/SC sees now; ReaderError when the PC/SC service is not running."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise ReaderError(f"PC/SC service unavailable: {_message(hresult)}")
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise ReaderError(f"cannot list readers: {_message(hresult)}")
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


class PcscReader:
    """One PC/SC reader (the first one, or the first whose name contains `prefer`)."""

    def __init__(self, prefer: str | None = None) -> None:
        self._prefer = prefer
        self._events = Listeners(ReaderStatus.NO_READER)
        self._stop = threading.Event()
        self._monitor_context: Any = None
        self._context_lock = threading.Lock()
        self._card_generation = 0  # bumps on every insert, so a stale handle is never reused
        self._transmitter = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pcsc-transmit")
        self._tx: dict[str, Any] = {}  # owned by the transmit thread: context, card, protocol, generation
        self._monitor = threading.Thread(target=self._watch, name="pcsc-monitor", daemon=True)
        self._monitor.start()

    # -- the interface ---------------------------------------------------------------
    def status(self) -> ReaderStatus:
        """The current status."""
        return self._events.status

    def reader_name(self) -> str | None:
        """The reader in use, if any."""
        return self._events.reader

    def subscribe(self, listener: Listener) -> Any:
        """Status changes, delivered on the monitor thread."""
        return self._events.subscribe(listener)

    def transmit(self, command: bytes, timeout: float = 3.0) -> bytes:
        """Send one APDU; CardError if there is no card, it was pulled, or it does not answer in time."""
        if self._events.status is not ReaderStatus.CARD_PRESENT:
            raise CardError("no card in the reader")
        reader, generation = self._events.reader, self._card_generation
        future = self._transmitter.submit(self._transmit_here, reader, generation, bytes(command))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            self._events.set(ReaderStatus.CARD_ERROR, reader)
            raise CardError("card did not answer in time") from exc

    def close(self) -> None:
        """Stop both threads and release PC/SC; safe to call twice."""
        self._stop.set()
        with self._context_lock:
            if self._monitor_context is not None:
                scard.SCardCancel(self._monitor_context)
        self._monitor.join(timeout=5)
        self._transmitter.submit(self._release_here)
        self._transmitter.shutdown(wait=True, cancel_futures=True)

    # -- the transmit thread -------------------------------------------------------------
    def _transmit_here(self, reader: str | None, generation: int, command: bytes) -> bytes:
        tx = self._tx
        if tx.get("generation") != generation or tx.get("reader") != reader:
            self._release_here()
            self._connect_here(reader, generation)
        hresult, response = scard.SCardTransmit(tx["card"], tx["pci"], list(command))
        if hresult in _REMOVED:
            self._release_here()
            raise CardError("card was removed during the read")
        if hresult != scard.SCARD_S_SUCCESS:
            raise CardError(f"card did not answer: {_message(hresult)}")
        return bytes(response)

    def _connect_here(self, reader: str | None, generation: int) -> None:
        if reader is None:
            raise CardError("no card in the reader")
        if "context" not in self._tx:
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderError(f"PC/SC service unavailable: {_message(hresult)}")
            self._tx["context"] = context
        hresult, card, protocol = scard.SCardConnect(
            self._tx["context"], reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hresult in _REMOVED:
            raise CardError("card was removed")
        if hresult != scard.SCARD_S_SUCCESS:
            raise CardError(f"card cannot be reached: {_message(hresult)}")
        pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        self._tx.update(card=card, pci=pci, reader=reader, generation=generation)

    def _release_here(self) -> None:
        card = self._tx.pop("card", None)
        if card is not None:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        self._tx.pop("generation", None)
        if self._stop.is_set() and "context" in self._tx:
            scard.SCardReleaseContext(self._tx.pop("context"))

    # -- the monitor thread -------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.is_set():
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                self._events.set(ReaderStatus.NO_READER, None)
                self._stop.wait(0.5)
                continue
            with self._context_lock:
                self._monitor_context = context
            try:
                self._watch_with(context)
            finally:
                with self._context_lock:
                    self._monitor_context = None
                scard.SCardReleaseContext(context)

    def _watch_with(self, context: Any) -> None:
        state = scard.SCARD_STATE_UNAWARE
        reader: str | None = None
        while not self._stop.is_set():
            if reader is None:
                reader = self._pick(context)
                if reader is None:
                    self._events.set(ReaderStatus.NO_READER, None)
                    self._stop.wait(_SLICE_MS / 1000)
                    continue
                state = scard.SCARD_STATE_UNAWARE
            hresult, states = scard.SCardGetStatusChange(context, _SLICE_MS, [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT or hresult == scard.SCARD_E_CANCELLED:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                if hresult == scard.SCARD_E_NO_SERVICE:
                    return  # pcscd went away: establish a new context
                reader = None
                continue
            _, event_state, _ = states[0]
            state = event_state & ~scard.SCARD_STATE_CHANGED
            if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE | scard.SCARD_STATE_UNAVAILABLE):
                reader = None
                continue
            self._report(reader, event_state)

    def _pick(self, context: Any) -> str | None:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult != scard.SCARD_S_SUCCESS or not readers:
            return None
        if self._prefer:
            readers = [r for r in readers if self._prefer in r] or []
        return readers[0] if readers else None

    def _report(self, reader: str, event_state: int) -> None:
        if event_state & scard.SCARD_STATE_PRESENT:
            if event_state & scard.SCARD_STATE_MUTE:
                self._events.set(ReaderStatus.CARD_ERROR, reader)
            elif self._events.status is not ReaderStatus.CARD_PRESENT or self._events.reader != reader:
                self._card_generation += 1
                self._events.set(ReaderStatus.CARD_PRESENT, reader)
        else:
            self._events.set(ReaderStatus.NO_CARD, reader)
