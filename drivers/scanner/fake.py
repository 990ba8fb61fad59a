"""A scanner in memory with test controls; it parses and delivers exactly as the real one does, on its own thread."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from .events import EventHub, Listener, ScannerStatus
from .frames import DEFAULT_MAX_FRAME, DEFAULT_TERMINATORS, FrameParser

_Command = bytes | ScannerStatus | None  # bytes "arrived", a plug change, or stop


class FakeScanner:
    """The BarcodeScanner interface plus scan(), send_bytes(), unplug() and plug().

    Controls are queued and handled in order on the fake's thread, so a listener sees events
    on a thread that is not the caller's, as with the real scanner.
    """

    def __init__(self, plugged: bool = True, terminators: bytes = DEFAULT_TERMINATORS,
                 max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._plugged = plugged
        self._terminator = terminators[:1]
        self._parser = FrameParser(terminators, max_frame)
        self._hub = EventHub()
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    def status(self) -> ScannerStatus:
        """READY while plugged and started, else NO_SCANNER."""
        return self._hub.status()

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Receive events on the fake's thread; returns the unsubscribe function."""
        return self._hub.subscribe(callback)

    def start(self) -> None:
        """Start the fake's thread; its first event is StatusChanged(READY or NO_SCANNER)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("scanner already closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fake-scanner", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the thread; safe to call twice or from a listener."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._commands.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def scan(self, text: str) -> None:
        """A label read: its text as UTF-8 and the first terminator, as a scanner sends it."""
        self.send_bytes(text.encode("utf-8") + self._terminator)

    def send_bytes(self, data: bytes) -> None:
        """Raw bytes on the line (partial frames, noise); ignored while unplugged, like a real port."""
        self._commands.put(bytes(data))

    def unplug(self) -> None:
        """Pull the cable: NO_SCANNER, and a partial frame is lost."""
        self._commands.put(ScannerStatus.NO_SCANNER)

    def plug(self) -> None:
        """Plug it back in: READY."""
        self._commands.put(ScannerStatus.READY)

    def _run(self) -> None:
        """Handle controls in order until close()."""
        self._hub.set_status(ScannerStatus.READY if self._plugged else ScannerStatus.NO_SCANNER, always=True)
        while (command := self._commands.get()) is not None:
            if isinstance(command, ScannerStatus):
                self._plugged = command is ScannerStatus.READY
                self._parser.reset()
                self._hub.set_status(command)
            elif self._plugged:
                for result in self._parser.feed(command):
                    self._hub.emit(result)
        self._hub.set_status(ScannerStatus.NO_SCANNER, quiet=True)
