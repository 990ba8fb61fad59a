"""Branch sync figures: kiosks that worked apart converge when the LAN heals; a check-in seen elsewhere.

Each kiosk runs in its own process (as on its own Pi), with zeroconf and mutual TLS on loopback.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import make_world

REPO = Path(__file__).resolve().parents[2]


def _count(ledger: Path) -> int:
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return -1
    finally:
        db.close()


def converge_after_partition(kiosks: int = 10, each: int = 3000) -> tuple[float, list[int]]:
    """Every kiosk checks in `each` different voters alone; then the LAN heals: seconds until all hold all."""
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        devices = [world.installed(f"kiosk{n}") for n in range(kiosks)]
        for installed in devices:
            ledger = installed.open_ledger()
            ledger.connection.execute("PRAGMA synchronous=OFF")  # setting the scene, not what is measured
            for _ in range(each):
                ledger.check_in(secrets.token_bytes(16))
            ledger.close()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        processes = [subprocess.Popen([sys.executable, str(REPO / "tests" / "net" / "sync_peer.py"), str(d.state)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
                     for d in devices]
        try:
            for process in processes:
                assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            started = time.perf_counter()
            for process in processes:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            total = kiosks * each
            ledgers = [d.state / "ledger.sqlite" for d in devices]
            deadline = time.monotonic() + 120
            counts = [_count(p) for p in ledgers]
            while any(c != total for c in counts) and time.monotonic() < deadline:
                time.sleep(0.05)
                counts = [_count(p) for p in ledgers]
            return time.perf_counter() - started, counts
        finally:
            for process in processes:
                assert process.stdin is not None
                process.stdin.close()
            for process in processes:
                process.wait(timeout=60)
                if process.stdout is not None:
                    process.stdout.close()


def seen_elsewhere_ms(rounds: int = 200) -> list[float]:
    """Two linked kiosks: ms from a durable check-in on one to `already_voted` on the other."""
    from kiosk.net.discovery import Endpoint
    from kiosk.net.sync import BranchSync
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
        a, b = world.installed("kiosk-a"), world.installed("kiosk-b")
        syncs = [BranchSync(k, host="127.0.0.1") for k in (a, b)]
        for sync in syncs:
            sync.start(discover=False)
        ends = {k.claims.device_id: Endpoint.at(k.claims.device_id, "127.0.0.1", s.port)
                for k, s in zip((a, b), syncs)}
        for k, sync in zip((a, b), syncs):
            sync.endpoints_changed({d: e for d, e in ends.items() if d != k.claims.device_id})
        ledger_a, ledger_b = a.open_ledger(), b.open_ledger()
        times: list[float] = []
        try:
            while syncs[0].status().online == 0 or syncs[1].status().online == 0:
                time.sleep(0.01)
            for _ in range(rounds):
                voter = secrets.token_bytes(16)
                started = time.perf_counter()
                ledger_a.check_in(voter)
                syncs[0].poke()
                while ledger_b.live_check_in(voter) is None:
                    time.sleep(0.0005)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            for sync in syncs:
                sync.close()
            ledger_a.close()
            ledger_b.close()
        return times
