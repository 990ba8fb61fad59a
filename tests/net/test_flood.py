"""Flooding the branch LAN: without a certificate nobody keeps a device out, floods write tallies, not lines, and
the security record survives them; verified links that keep talking stay up.

The attacker runs in a process of its own (tests/net/flood_peer.py) and connects from 127.0.0.2 and up, which
Linux keeps on loopback; the honest devices connect from 127.0.0.1.
"""
from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import World
from kiosk.logbook import audit_lines, keep_audit_log
from kiosk.net import channel as channel_module
from kiosk.net import courier as courier_module
from kiosk.net import messages as m
from kiosk.net import sync as sync_module
from kiosk.net import sync_messages as sm
from kiosk.net.channel import (HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, SEND_TIMEOUT, PeerPolicy, PeerRefused,
                               Server, TlsIdentity, connect)
from kiosk.net.courier import STATUS_SECONDS, Courier
from kiosk.net.discovery import Endpoint
from kiosk.net.sync import WANT_SECONDS, BranchSync
from kiosk.rep.service import BEACON_SECONDS, RepService
from kiosk.trust import certs

HOST = "127.0.0.1"
KIOSKS = PeerPolicy(certs.Role.KIOSK, frozenset({"1001"}))
REPS = PeerPolicy(certs.Role.REP, frozenset({"1001"}))
FLOOD_PEER = Path(__file__).with_name("flood_peer.py")


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[dict[str, object]]]:
    """Logged events of one id, as dicts."""
    caplog.set_level(logging.INFO, logger="kiosk")

    def of(event_id: str) -> list[dict[str, object]]:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kiosk"]
        return [line for line in lines if line["event"] == event_id]

    return of


@contextmanager
def flooding(port: int, sources: list[str], silent: int, trickle: int) -> Iterator[list[int]]:
    """The attacker, flooding HOST:port until the block ends; then the list holds how many connections it opened."""
    attacker = subprocess.Popen([sys.executable, str(FLOOD_PEER), HOST, str(port), ",".join(sources), str(silent),
                                 str(trickle)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert attacker.stdin is not None and attacker.stdout is not None
    opened: list[int] = []
    try:
        assert attacker.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # its connections are in: every slot it can take is taken
        yield opened
    finally:
        attacker.stdin.close()
        opened.append(int(attacker.stdout.readline() or 0))
        attacker.wait(timeout=10)
        attacker.stdout.close()


def keep_getting_in(server_port: int, kiosk: TlsIdentity, policy: PeerPolicy,
                    first_frame: Callable[[bytes], bool]) -> list[float]:
    """Connect again and again for longer than a handshake budget; seconds each took to be served."""
    took: list[float] = []
    until = time.monotonic() + HANDSHAKE_TIMEOUT + 1.5  # the attacker's first connections time out meanwhile
    while time.monotonic() < until:
        started = time.monotonic()
        with connect(HOST, server_port, kiosk, policy, timeout=HANDSHAKE_TIMEOUT) as channel:
            assert first_frame(channel.receive(timeout=2) or b"")
        took.append(time.monotonic() - started)
        time.sleep(0.3)
    return took


def refusal_lines(events: Callable[[str], list[dict[str, object]]], prefix: str) -> list[dict[str, object]]:
    return [e for e in events("N100") if str(e["address"]).startswith(prefix)]


def refusals_counted(lines: list[dict[str, object]]) -> int:
    """How many refusals these lines stand for: one each, or a tally's count."""
    return sum(int(str(line.get("count", 1))) for line in lines)


def test_silent_and_trickling_connections_from_one_address_leave_the_console_open_to_a_kiosk(
        world: World, events: Callable[[str], list[dict[str, object]]]) -> None:
    console, kiosk = world.console("rep1"), TlsIdentity.from_installed(world.installed("kiosk1"))
    service = RepService(console, host=HOST)
    service.start()
    try:
        with flooding(service.port, ["127.0.0.2"], silent=72, trickle=8) as opened:
            took = keep_getting_in(service.port, kiosk, REPS, lambda frame: isinstance(m.decode(frame), m.Beacon))
    finally:
        service.close()
    assert opened[0] > 300, "the attacker was not flooding"
    assert len(took) >= 10 and max(took) < HANDSHAKE_TIMEOUT
    # Thousands of refusals from the attacker's address: for each reason its first line, then a tally every 10 s.
    flood = refusal_lines(events, "127.0.0.2")
    assert refusals_counted(flood) > 300
    assert len(flood) <= 2 * len({e["reason"] for e in flood}) <= 8


def test_a_flood_from_many_addresses_leaves_a_kiosk_open_to_another_kiosk(world: World) -> None:
    kiosk, other = TlsIdentity.from_installed(world.installed("kiosk1")), world.installed("kiosk2")
    sync = BranchSync(other, host=HOST)
    sync.start(discover=False)
    sources = [f"127.0.0.{n}" for n in range(2, 10)]   # 8 addresses × 10: more than every handshake slot
    try:
        with flooding(sync.port, sources, silent=8, trickle=2) as opened:
            took = keep_getting_in(sync.port, kiosk, KIOSKS, lambda frame: isinstance(sm.decode(frame), sm.Hello))
    finally:
        sync.close()
    assert opened[0] > 300, "the attacker was not flooding"
    assert len(took) >= 10 and max(took) < HANDSHAKE_TIMEOUT


def audit_event(line: str) -> dict[str, object]:
    """The JSON of one audit line (after its time stamp)."""
    parsed: dict[str, object] = json.loads(line.split(" ", 2)[2])
    return parsed


def test_a_flood_of_refusals_writes_tallies_and_the_security_record_outlives_rotation(
        world: World, tmp_path: Path) -> None:
    state = tmp_path / "device"
    state.mkdir()
    keep_audit_log(state, rotate_bytes=8 << 10, kept=1)   # at most 16 KiB of ordinary lines are kept
    kiosk, rep, stranger = (TlsIdentity.from_installed(i) for i in (
        world.installed("kiosk1"), world.console("rep1"), world.console("rep2")))
    server = Server(rep, KIOSKS, lambda channel: None, HOST, refusal_interval=0.5)
    server.start()
    port = server.port
    try:
        # Early in the day a device that has no business here is refused: the close-of-polls bundle must show it.
        with pytest.raises(PeerRefused):
            connect(HOST, server.port, stranger, KIOSKS, timeout=3)
        started = time.monotonic()
        for _ in range(400):   # then an attacker without a certificate, one connection after another
            with socket.socket() as raw:
                raw.bind(("127.0.0.2", 0))
                raw.settimeout(3)
                raw.connect((HOST, server.port))
                try:
                    raw.sendall(b"\x16\x03\x01\x00\x05hello")
                    while raw.recv(4096):
                        pass
                except OSError:   # reset: the server hung up on unread bytes
                    pass
        flood_seconds = time.monotonic() - started
        for _ in range(40):    # and a verified kiosk reconnecting over and over: ordinary lines, enough to rotate
            connect(HOST, server.port, kiosk, REPS, timeout=3).close()
    finally:
        server.close()   # writes the tallies still pending
    assert (state / "audit.log.1").exists(), "the ordinary lines did not rotate"
    kept = [audit_event(line) for line in audit_lines(state)]
    refusals = [e for e in kept if e["event"] == "N100"]
    ours = [e for e in refusals if str(e["address"]).startswith(HOST) and e["address"] != f"{HOST}:{port}"]
    assert [e["reason"] for e in ours] == ["peer role is rep, expected kiosk"]
    flood = [e for e in refusals if str(e["address"]).startswith("127.0.0.2")]
    reasons = {e["reason"] for e in flood}
    assert refusals_counted(flood) == 400                     # every refusal is counted ...
    assert len(flood) <= len(reasons) * (2 + flood_seconds / 0.5)   # ... in a line per reason and interval,
    assert 4 * len(flood) < refusals_counted(flood)                    # tallies, not a line each (however slow)
    assert all(str(e["reason"]).startswith("TLS handshake failed") for e in flood)


# --- links that keep talking ---------------------------------------------------------------------

def test_every_link_sends_well_within_the_idle_bound() -> None:
    # Each direction of every long-lived link: sync's Want (both ways), the kiosk's Status, the console's Beacon.
    assert IDLE_TIMEOUT >= 5 * max(WANT_SECONDS, STATUS_SECONDS, BEACON_SECONDS)
    assert IDLE_TIMEOUT > SEND_TIMEOUT + STATUS_SECONDS   # a sender stuck that long closes its own side first


def endpoint_of(sync: BranchSync) -> Endpoint:
    return Endpoint.at(sync._me, HOST, sync.port)


def test_quiet_sync_and_courier_links_are_not_dropped_for_silence(
        world: World, monkeypatch: pytest.MonkeyPatch, events: Callable[[str], list[dict[str, object]]]) -> None:
    # The real timings, twenty times faster: idle 30 s -> 1.5 s, Status 5 s, Beacon 2 s, Want 1 s likewise.
    monkeypatch.setattr(channel_module, "IDLE_TIMEOUT", IDLE_TIMEOUT / 20)
    monkeypatch.setattr(courier_module, "STATUS_SECONDS", STATUS_SECONDS / 20)
    monkeypatch.setattr(sync_module, "WANT_SECONDS", WANT_SECONDS / 20)
    kiosk1, kiosk2, console = world.installed("kiosk1"), world.installed("kiosk2"), world.console("rep1")
    service = RepService(console, host=HOST, beacon_seconds=BEACON_SECONDS / 20)
    service.start()
    courier = Courier(kiosk1)
    one, two = BranchSync(kiosk1, host=HOST), BranchSync(kiosk2, host=HOST)
    try:
        for sync in (one, two):
            sync.start(discover=False)
        rep = service.identity.claims.device_id
        courier.endpoints_changed({rep: Endpoint.at(rep, HOST, service.port)})
        one.endpoints_changed({two._me: endpoint_of(two)})
        two.endpoints_changed({one._me: endpoint_of(one)})
        deadline = time.monotonic() + 30
        while not (courier.status().consoles == 1 and all(p.online for p in one.status().peers)
                   and one.status().peers and all(p.online for p in two.status().peers) and two.status().peers):
            assert time.monotonic() < deadline, "the links did not come up"
            time.sleep(0.05)
        connected = len(events("N102"))
        time.sleep(3 * IDLE_TIMEOUT / 20)
        assert courier.status().consoles == 1 and all(p.online for p in one.status().peers + two.status().peers)
        assert len(events("N102")) == connected, "a link was dropped and made again"
    finally:
        courier.close()
        one.close()
        two.close()
        service.close()
    assert not [e for e in events("N103") if str(e["reason"]).startswith("silent")]
