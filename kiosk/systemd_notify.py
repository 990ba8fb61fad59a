"""systemd's notify protocol without a library: READY, STATUS and watchdog pings over NOTIFY_SOCKET.

Under `Type=notify` with `WatchdogSec=`, systemd restarts a service that stops
pinging; the apps ping from their UI main loop, so a hung screen is restarted.
Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""
from __future__ import annotations

import os
import socket


def notify(*fields: str) -> bool:
    """Send `KEY=value` lines to systemd; False when not under systemd or the socket is gone."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between pings (half of WatchdogSec), or None when systemd asks for none (or asks another pid)."""
    usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
