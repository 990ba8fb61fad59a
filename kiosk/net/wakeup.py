"""What the courier and branch sync share: link threads that sleep until poked, stopped or timed out."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kiosk.logbook import Event, log

T = TypeVar("T")


class Pokeable:
    """A lock, a condition on it and a generation that moves on every poke."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._generation = 0
        self._stop = threading.Event()

    def poke(self) -> None:
        """Something new was written (a case, a ledger event, a peer found): the link threads act now."""
        with self._lock:
            self._poke_locked()

    def _poke_locked(self) -> None:
        """`poke` for a caller that already holds the lock."""
        self._generation += 1
        self._wake.notify_all()

    def _keep_link(self, links: dict[str, threading.Thread], device: str, run: Callable[[str], None],
                   name: str) -> None:
        """A link thread running `run(device)`, unless one is alive already or the links are stopping.

        Call with the lock held: the courier, branch sync and the unlock asker start one thread per peer so.
        """
        thread = links.get(device)
        if (thread is None or not thread.is_alive()) and not self._stop.is_set():
            thread = threading.Thread(target=run, args=(device,), name=f"{name}-{device[:6]}", daemon=True)
            links[device] = thread
            thread.start()

    def _sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, ending early when poked or stopped (a retry's backoff)."""
        with self._lock:
            generation = self._generation
            deadline = time.monotonic() + seconds
            while not self._stop.is_set() and self._generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._wake.wait(timeout=left)


def tell(listener: Callable[[T], None], value: T) -> None:
    """Give a screen's listener a value; a listener that raises is logged and never stops a link."""
    try:
        listener(value)
    except Exception as exc:
        log(Event.LISTENER_FAILED, error=type(exc).__name__)
