"""Escalation figures on loopback: a case delivered to the console (p50/p99), and 10 kiosks × 50 cases.

"Delivered" is the kiosk's view: the case is committed in the kiosk's outbox,
the courier sends it, the console writes it to its case book (fsync'd) and
acknowledges, and the kiosk marks it delivered. Real mutual TLS; the endpoint
is handed over as zeroconf would (discovery has its own figure).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiosk.core.cases import CaseForm, CaseReason, CaseStatus
from kiosk.core.jalali import JalaliDate
from kiosk.desk import CaseDesk
from kiosk.net.courier import Courier
from kiosk.net.discovery import REP_SERVICE, Browser, Endpoint
from kiosk.rep.service import RepService
from kiosk.state import Installed
from tests.helpers import make_world

REPO = Path(__file__).resolve().parents[2]
FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "", CaseReason.NO_CODE)


def _endpoint(service: RepService) -> Endpoint:
    claims = service.identity.claims
    return Endpoint.at(claims.device_id, "127.0.0.1", service.port)


def _desk(kiosk: Installed, courier: Courier) -> CaseDesk:
    ledger, registry = kiosk.open_ledger(), kiosk.open_registry()
    return CaseDesk(kiosk.open_outbox(ledger), kiosk.config.rules, ledger, registry, courier.poke)


def delivery_latencies_ms(cases: int = 300) -> list[float]:
    """One kiosk, one console: raise a case, wait until the console's acknowledgement is recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        kiosk, console = world.installed("kiosk1"), world.console("rep1")
        service = RepService(console, host="127.0.0.1")
        service.start()
        courier = Courier(kiosk)
        courier.endpoints_changed({console.claims.device_id: _endpoint(service)})
        desk = _desk(kiosk, courier)
        outbox = desk._outbox
        times: list[float] = []
        try:
            while courier.status().consoles == 0:
                time.sleep(0.01)
            for _ in range(cases):
                started = time.perf_counter()
                case = desk.raise_case(FORM)
                assert not isinstance(case, list)
                while (found := outbox.case(case.case_id)) is None or found.status is not CaseStatus.DELIVERED:
                    time.sleep(0.0005)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            courier.close()
            service.close()
        return times


def many_kiosks(kiosks: int = 10, each: int = 50) -> tuple[int, int, float]:
    """`kiosks` couriers raise `each` cases at once: (cases in the console's book, distinct ids, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        console = world.console("rep1")
        devices = [world.installed(f"kiosk{n}") for n in range(kiosks)]
        service = RepService(console, host="127.0.0.1")
        service.start()
        couriers = [Courier(k) for k in devices]
        for courier in couriers:
            courier.endpoints_changed({console.claims.device_id: _endpoint(service)})
        try:
            started = time.perf_counter()

            def raise_all(kiosk: Installed, courier: Courier) -> None:
                # SQLite connections belong to their thread: each kiosk's desk is opened on its own thread.
                desk = _desk(kiosk, courier)
                for _ in range(each):
                    desk.raise_case(FORM)

            threads = [threading.Thread(target=raise_all, args=pair) for pair in zip(devices, couriers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            deadline = time.monotonic() + 120
            while len(service.open_cases()) < kiosks * each and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            ids = [c.case_id for c in service.open_cases()]
            return len(ids), len(set(ids)), elapsed
        finally:
            for courier in couriers:
                courier.close()
            service.close()


def console_process_to_link_seconds(rounds: int = 3) -> list[float]:
    """A kiosk already browsing; seconds from starting a console process to the kiosk's TLS link being up.

    Includes the console's Python start-up and imports, opening its state, TLS, zeroconf and the handshake.
    """
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        kiosk, console = world.installed("kiosk1"), world.console("rep1")
        for _ in range(rounds):
            courier = Courier(kiosk)
            browser = Browser(REP_SERVICE, kiosk.config.id, kiosk.claims.branches,
                              on_change=courier.endpoints_changed, interfaces=["127.0.0.1"])
            browser.start()
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, str(REPO / "tests" / "net" / "peer.py"), "console",
                                        str(console.state)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       env={**os.environ, "PYTHONPATH": str(REPO)})
            try:
                deadline = time.monotonic() + 30
                while courier.status().consoles == 0 and time.monotonic() < deadline:
                    time.sleep(0.005)
                figures.append(time.perf_counter() - started)
            finally:
                assert process.stdin is not None
                process.stdin.close()
                process.wait(timeout=30)
                browser.close()
                courier.close()
    return figures
