"""Listeners of one device, shared by every driver: a listener that raises never stops a driver's thread."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from kiosk.logbook import Event, log

E = TypeVar("E")


class Broadcaster(Generic[E]):
    """Subscribe, unsubscribe, and deliver events to every listener in order."""

    def __init__(self, device: str) -> None:
        self._device = device
        self._lock = threading.Lock()
        self._listeners: dict[object, Callable[[E], None]] = {}

    def subscribe(self, callback: Callable[[E], None]) -> Callable[[], None]:
        """Add a listener; the returned function removes exactly this subscription."""
        token = object()
        with self._lock:
            self._listeners[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.pop(token, None)

        return unsubscribe

    def emit(self, event: E) -> None:
        """Deliver `event` to every listener; a failing one is logged (its type only) and skipped."""
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - the driver's thread has to outlive a buggy listener
                # Only the type: an exception's message could quote a national code.
                log(Event.LISTENER_FAILED, device=self._device, error=type(exc).__name__)
