"""The start-of-day unlock through the representative's console, over real mutual TLS on loopback.

Timed from the representative's confirmation (RepService.grant_unlock) to the
kiosk Ready: the share arrived, opened the device, and the registry answered
a first lookup. The ask itself (staff press the button, the console shows it)
comes before and is not in the figure.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from kiosk.net.discovery import Endpoint
from kiosk.net.unlock_asker import UnlockAsker
from kiosk.core.console import UnlockGrant
from kiosk.rep.service import RepService
from kiosk.state import Installed
from kiosk.store import unlock_memory
from tests.helpers import PEOPLE, make_world


def _until(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the console unlock did not get there in time"
        time.sleep(0.005)


def console_unlock_seconds(runs: int = 20) -> dict[str, float]:
    """Mean and worst seconds from the representative's confirmation to the kiosk Ready."""
    with tempfile.TemporaryDirectory(prefix="console-unlock-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="console-unlock-bench-", dir="/dev/shm") as unlocks_dir:
        os.environ[unlock_memory.ENV] = unlocks_dir
        world = make_world(Path(tmp))
        kiosk = world.installed("k1", unlocked=False)
        console = world.console("rep1")
        service = RepService(console, host="127.0.0.1")
        service.start()
        kiosk_id = kiosk.claims.device_id
        timings = []
        try:
            for _ in range(runs):
                arrived, opened = threading.Event(), []

                def got(done: Installed) -> None:
                    opened.append(done)
                    arrived.set()
                asker = UnlockAsker(kiosk, got)
                asker.endpoints_changed({console.claims.device_id: Endpoint.at(console.claims.device_id,
                                                                               "127.0.0.1", service.port)})
                try:
                    _until(lambda: asker.answer().consoles == 1)
                    asker.ask()
                    _until(lambda: any(k.device == kiosk_id and k.asks_unlock for k in service.kiosks()))
                    started = time.perf_counter()
                    assert service.grant_unlock(kiosk_id, "rep-1") is UnlockGrant.SENT
                    assert arrived.wait(30)
                    assert opened[0].open_registry().lookup(PEOPLE["eligible"].code) is not None
                    timings.append(time.perf_counter() - started)
                    opened[0].lock()
                finally:
                    asker.close()
                assert Installed.open(kiosk.state).locked
        finally:
            service.close()
    return {"mean_s": statistics.fmean(timings), "max_s": max(timings)}
