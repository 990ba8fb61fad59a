"""One side of the namespace test, run inside a network namespace: an advertiser or a browser on every interface.

  netns_peer.py advertise DEVICE PORT ELECTION BRANCH   stdin "update PORT" re-announces; EOF closes
  netns_peer.py browse ELECTION BRANCH                  prints each change as JSON; EOF closes
Each side prints "ready" once started and "closed" once every zeroconf thread is gone.
"""
from __future__ import annotations

import json
import sys
import threading

from kiosk.net.discovery import REP_SERVICE, Advert, Advertiser, Browser, Endpoint

FINGERPRINT = "ab" * 32


def _say(line: str) -> None:
    print(line, flush=True)


def advertise(device: str, port: int, election: str, branch: str) -> None:
    """Advertise until stdin ends; 'update PORT' announces a new port and the current addresses."""
    advertiser = Advertiser(REP_SERVICE, Advert(device, port, election, (branch,), FINGERPRINT))
    advertiser.start()
    _say("ready")
    for line in sys.stdin:
        command, _, value = line.strip().partition(" ")
        if command == "update":
            advertiser.update(Advert(device, int(value), election, (branch,), FINGERPRINT))
            _say("updated")
    advertiser.close()


def browse(election: str, branch: str) -> None:
    """Print every change of the endpoints as one JSON line until stdin ends."""
    def on_change(endpoints: dict[str, Endpoint]) -> None:
        _say(json.dumps({d: {"host": e.host, "port": e.port} for d, e in endpoints.items()}))

    browser = Browser(REP_SERVICE, election, [branch], on_change=on_change)
    browser.start()
    _say("ready")
    sys.stdin.read()
    browser.close()


if __name__ == "__main__":
    if sys.argv[1] == "advertise":
        advertise(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        browse(sys.argv[2], sys.argv[3])
    _say("closed" if threading.active_count() == 1 else f"threads left: {threading.enumerate()}")
