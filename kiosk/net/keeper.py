"""Zeroconf that outlives the network: started once the machine has an address, restarted when they change.

A Pi may boot before its cable is in or its address is set, and a technician
may move it to another switch; python-zeroconf binds its sockets once, when it
starts, and an advert needs an address to announce. The keeper watches the
machine's IPv4 addresses (polled with ifaddr: cheap, and no netlink code of our
own) and restarts the zeroconf parts it keeps when they change, or retries them
a while after they failed. The TLS servers listen on every address and need
no restart.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from kiosk.logbook import Event, log
from kiosk.net.discovery import DiscoveryError, machine_ipv4

POLL_SECONDS = 5.0
RETRY_SECONDS = 30.0   # after a failure with no address change: e.g. port 5353 held by something else


class Closable(Protocol):
    """An advertiser or a browser."""

    def close(self) -> None: ...


class DiscoveryKeeper:
    """Runs `start` (which starts and returns zeroconf parts) now, and again whenever the addresses change."""

    def __init__(self, name: str, start: Callable[[], Sequence[Closable]], poll: float = POLL_SECONDS,
                 retry: float = RETRY_SECONDS, addresses: Callable[[], list[str]] = machine_ipv4) -> None:
        self._name = name
        self._start = start
        self._poll = poll
        self._retry = retry
        self._addresses = addresses
        self._parts: Sequence[Closable] = ()
        self._seen: list[str] = []
        self._since_failure = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name=f"zeroconf-keeper-{name}", daemon=True)

    @property
    def running(self) -> bool:
        """Whether zeroconf runs now."""
        with self._lock:
            return bool(self._parts)

    def start(self) -> bool:
        """First attempt at once (so a LAN that is up is used from the first second), then keep watching."""
        self._seen = sorted(self._addresses())
        started = self._attempt()
        self._thread.start()
        return started

    def close(self) -> None:
        """Stop watching and close the zeroconf parts (goodbyes are sent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lock:
            parts, self._parts = self._parts, ()
        for part in parts:
            part.close()

    def _attempt(self) -> bool:
        try:
            parts = self._start()
        except DiscoveryError as exc:
            log(Event.DISCOVERY_FAILED, service=self._name, reason=str(exc), addresses=len(self._seen))
            self._since_failure = 0.0
            return False
        with self._lock:
            if self._stop.is_set():
                stale, self._parts = parts, ()
            else:
                stale, self._parts = (), parts
        for part in stale:
            part.close()
        return not stale

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            now = sorted(self._addresses())
            changed = now != self._seen
            self._since_failure += self._poll
            if not changed and (self.running or self._since_failure < self._retry):
                continue
            self._seen = now
            with self._lock:
                parts, self._parts = self._parts, ()
            for part in parts:
                part.close()
            if changed:
                log(Event.DISCOVERY_RESTARTED, service=self._name, addresses=len(now))
            self._attempt()
