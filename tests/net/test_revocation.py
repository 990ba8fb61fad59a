"""Finding 5 on the LAN: a revoked device is refused by kiosks and consoles over real mutual TLS, without a restart.

The list reaches running devices from a USB stick (`kiosk-provision update`) or
relayed by the console; open links to the revoked device are closed.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import World
from kiosk.net.channel import Channel, ChannelClosed, PeerPolicy, PeerRefused, TlsIdentity, connect
from kiosk.net.courier import Courier
from kiosk.net.discovery import Endpoint
from kiosk.net.sync import BranchSync
from kiosk.rep.service import RepService
from kiosk.state import Installed
from kiosk.trust.certs import Role
from kiosk.trust.live import LiveRoster
from provisioning import authority_cli, device_cli

HOST = "127.0.0.1"
REVOKED = "peer is revoked by the election authority"


def wait_for(condition: Callable[[], object], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def closed(channel: Channel) -> bool:
    """Whether the far end closed the channel (frames it sent before are read and dropped)."""
    try:
        while channel.receive(timeout=0.05) is not None:
            pass
    except ChannelClosed:
        return True
    return False


def revoke_to_stick(world: World, device: str, stick: Path) -> Path:
    """The authority's `kiosk-authority revoke`, written to a file for a USB stick."""
    assert authority_cli.main(["revoke", "--dir", str(world.authority.folder), "--device", device,
                               "--out", str(stick)]) == 0
    return stick


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if '"N100"' in r.getMessage()]


class Running:
    """Closes what a test started, last first."""

    def __init__(self) -> None:
        self.closers: list[Callable[[], None]] = []

    def sync(self, installed: Installed, live: LiveRoster | None = None) -> BranchSync:
        sync = BranchSync(installed, host=HOST)
        if live is not None:
            live.subscribe(sync.use_roster)   # as kiosk.ui.lan wires them
        sync.start(discover=False)
        self.closers.append(sync.close)
        return sync

    def console(self, installed: Installed) -> RepService:
        service = RepService(installed, host=HOST)
        service.start()
        self.closers.append(service.close)
        return service

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


@pytest.fixture
def running() -> Iterator[Running]:
    made = Running()
    yield made
    made.close()


def test_a_revoked_kiosk_is_shut_out_of_another_kiosks_sync_and_the_console_without_a_restart(
        world: World, running: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    a, b, rep = world.installed("kiosk-a"), world.installed("kiosk-b"), world.console("rep1")
    live_a = LiveRoster(a)
    sync = running.sync(a, live_a)
    service = running.console(rep)
    thief = TlsIdentity.from_installed(b)
    to_sync = connect(HOST, sync.port, thief, PeerPolicy(Role.KIOSK, frozenset({"1001"})))
    to_console = connect(HOST, service.port, thief, PeerPolicy(Role.REP, frozenset({"1001"})))
    running.closers += [to_sync.close, to_console.close]
    wait_for(lambda: sync.status().online == 1 and [k.online for k in service.kiosks()] == [True])

    # kiosk-b is stolen: the authority revokes it, a technician takes the list to the running devices.
    stick = revoke_to_stick(world, b.claims.device_id, tmp_path / "revocations.json")
    for state in (a.state, rep.state):
        assert device_cli.main(["update", "--state", str(state), str(stick)]) == 0
    live_a.refresh()   # what the app's watcher does within seconds; the console's own watcher runs here

    wait_for(lambda: closed(to_sync) and closed(to_console))
    wait_for(lambda: sync.status().online == 0 and [k.online for k in service.kiosks()] == [False])
    for port, role in ((sync.port, Role.KIOSK), (service.port, Role.REP)):
        with pytest.raises(PeerRefused):
            connect(HOST, port, thief, PeerPolicy(role, frozenset({"1001"})))
    wait_for(lambda: sum(REVOKED in line for line in refusals(caplog)) >= 2)


def test_the_console_relays_a_newer_list_and_the_kiosk_keeps_it_and_refuses_the_revoked_kiosk(
        world: World, running: Running, tmp_path: Path) -> None:
    a, b, rep = world.installed("kiosk-a"), world.installed("kiosk-b"), world.console("rep1")
    service = running.console(rep)
    live_a = LiveRoster(a)
    courier = Courier(a, live=live_a)
    running.closers.append(courier.close)
    sync_a, sync_b = running.sync(a, live_a), running.sync(b)
    ids = {k.claims.device_id: s for k, s in ((a, sync_a), (b, sync_b))}
    for me, sync in ids.items():
        sync.endpoints_changed({d: Endpoint.at(d, HOST, s.port) for d, s in ids.items() if d != me})
    courier.endpoints_changed({rep.claims.device_id: Endpoint.at(rep.claims.device_id, HOST, service.port)})
    wait_for(lambda: courier.status().consoles == 1 and sync_a.status().online == 1 and sync_b.status().online == 1)
    assert Installed.open(a.state).revocations().number == 0

    # Only the console gets the list (a stick, while it runs); it relays it to the kiosk it is linked to.
    stick = revoke_to_stick(world, b.claims.device_id, tmp_path / "revocations.json")
    assert device_cli.main(["update", "--state", str(rep.state), str(stick)]) == 0

    wait_for(lambda: Installed.open(a.state).revocations().number == 1)
    assert (a.state / "revocations.json").read_bytes() == stick.read_bytes()   # stored exactly as verified
    wait_for(lambda: sync_a.status().online == 0 and sync_b.status().online == 0)
    with pytest.raises(PeerRefused):
        connect(HOST, sync_a.port, TlsIdentity.from_installed(b), PeerPolicy(Role.KIOSK, frozenset({"1001"})))
    assert courier.status().consoles == 1   # the console itself stays linked
    time.sleep(1.5)                          # b keeps trying, and keeps being refused
    assert sync_a.status().online == 0
