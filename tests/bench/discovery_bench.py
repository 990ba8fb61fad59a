"""Console found after start: from starting the console's advertiser to a browsing kiosk having it, on loopback."""
from __future__ import annotations

import secrets
import statistics
import threading
import time

from kiosk.net.discovery import REP_SERVICE, Advert, Advertiser, Browser, Endpoint

_LOOPBACK = ["127.0.0.1"]
_TIMEOUT_S = 10.0


def found_after_start_seconds(rounds: int) -> list[float]:
    """Seconds from Advertiser.start() being called to the browser's on_change carrying it, per round."""
    figures: list[float] = []
    for _ in range(rounds):
        figures.append(_one_round())
    return figures


def _one_round() -> float:
    # A fresh device id and fresh zeroconf instances per round, so no cache carries over.
    device = secrets.token_hex(8)
    found = threading.Event()
    found_at: list[float] = []

    def on_change(endpoints: dict[str, Endpoint]) -> None:
        if device in endpoints and not found.is_set():
            found_at.append(time.monotonic())
            found.set()

    browser = Browser(REP_SERVICE, "bench", ["1"], on_change=on_change, interfaces=_LOOPBACK)
    browser.start()
    advertiser = Advertiser(REP_SERVICE, Advert(device, 4443, "bench", ("1",), "0" * 64), interfaces=_LOOPBACK)
    try:
        time.sleep(0.2)  # the kiosk is already browsing when the console starts, as on election morning
        started = time.monotonic()
        advertiser.start()
        if not found.wait(_TIMEOUT_S):
            raise RuntimeError(f"console not found within {_TIMEOUT_S} s")
        return found_at[0] - started
    finally:
        advertiser.close()
        browser.close()


if __name__ == "__main__":
    values = found_after_start_seconds(5)
    print(f"found after start: median {statistics.median(values):.3f} s, max {max(values):.3f} s "
          f"({', '.join(f'{v:.3f}' for v in values)})")
