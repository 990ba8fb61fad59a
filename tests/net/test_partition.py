"""Two kiosk processes in network namespaces made by the test: the veth link is cut and healed.

Each process runs branch sync on every interface of its namespace, as on a
branch LAN. The test writes check-ins and undos into each kiosk's ledger file
(the file system is shared; only the network is apart) and reads back what
sync made of them.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from helpers import World
from kiosk.core.outcome import Recorded
from kiosk.state import Installed
from kiosk.store.ledger import Ledger
from test_discovery import ip, namespaces  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def start(namespace: str, installed: Installed) -> subprocess.Popen[str]:
    process = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable,
                                str(ROOT / "tests" / "net" / "sync_peer.py"), str(installed.state), "all"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()
    return process


def stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def heads(ledger: Ledger) -> dict[str, int]:
    return {d: int(s) for d, s in ledger.connection.execute("SELECT device, max(seq) FROM events GROUP BY device")}


def duplicates(ledger: Ledger, seconds: float = 20.0) -> int:
    """The double check-ins this kiosk has found, read from its ledger file.

    The kiosk's own process may hold the write lock for a moment ("database is locked"): that, and
    only that, is retried until the deadline. Anything else (no such table, a broken file) fails the
    test, so a count is always one that was actually read.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return int(ledger.connection.execute("SELECT count(*) FROM duplicates").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            assert time.monotonic() < deadline, f"the ledger stayed locked for {seconds} s"
            time.sleep(0.1)


def test_a_cut_link_heals_with_undo_propagated_and_the_double_check_in_found_on_both(
        world: World, namespaces: tuple[str, str, str]) -> None:  # noqa: F811
    ns_a, ns_b, end_a = namespaces
    a, b = world.installed("kiosk-a"), world.installed("kiosk-b")
    ledger_a, ledger_b = a.open_ledger(), b.open_ledger()
    processes = [start(ns_a, a), start(ns_b, b)]
    try:
        first = secrets.token_bytes(16)
        made = ledger_b.check_in(first)
        wait_for(lambda: ledger_a.live_check_in(first) is not None)        # linked across the veth pair

        ip("-n", ns_a, "link", "set", end_a, "down")                         # the branch LAN is cut
        twice = secrets.token_bytes(16)
        ledger_a.check_in(twice)
        ledger_b.check_in(twice)                                             # nobody can know
        # b undoes its own check-in (only the kiosk that recorded one may)
        assert isinstance(ledger_b.undo(b.claims.device_id, made.seq, "recorded for the wrong person"), Recorded)
        time.sleep(2)
        assert ledger_a.live_check_in(first) is not None                     # the undo has not crossed
        assert len(ledger_a.live_check_ins(twice)) == 1                      # nor b's check-in of the same voter
        assert duplicates(ledger_a) == 0 and duplicates(ledger_b) == 0       # read from each file: none found yet

        ip("-n", ns_a, "link", "set", end_a, "up")                           # healed
        wait_for(lambda: heads(ledger_a) == heads(ledger_b) and len(heads(ledger_a)) == 2, seconds=40)
        assert ledger_a.live_check_in(first) is None                         # b's undo reached a
        wait_for(lambda: duplicates(ledger_a) == 1 and duplicates(ledger_b) == 1)
        assert len(ledger_a.live_check_ins(twice)) == 2
    finally:
        for process in processes:
            stop(process)
        ledger_a.close()
        ledger_b.close()


def test_a_kiosk_started_before_its_address_was_set_links_once_it_is(
        world: World, namespaces: tuple[str, str, str]) -> None:  # noqa: F811
    ns_a, ns_b, end_a = namespaces
    end_b = end_a[:-1] + "b"
    ip("-n", ns_b, "addr", "del", "10.213.0.2/24", "dev", end_b)          # booted before its address came
    a, b = world.installed("kiosk-a"), world.installed("kiosk-b")
    ledger_a, ledger_b = a.open_ledger(), b.open_ledger()
    processes = [start(ns_a, a), start(ns_b, b)]
    try:
        voter = secrets.token_bytes(16)
        ledger_a.check_in(voter)
        time.sleep(2)
        assert ledger_b.live_check_in(voter) is None                         # no address, no link

        ip("-n", ns_b, "addr", "add", "10.213.0.2/24", "dev", end_b)      # the address arrives
        wait_for(lambda: ledger_b.live_check_in(voter) is not None, seconds=30)
    finally:
        for process in processes:
            stop(process)
        ledger_a.close()
        ledger_b.close()
