"""A locked kiosk unlocked by the representative's console, over real mutual TLS on loopback (issue 14).

Discovery is left out (the asker is handed the console's endpoint as zeroconf would hand it).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from helpers import PEOPLE, World
from kiosk.net.discovery import Endpoint
from kiosk.net.unlock_asker import WRONG_SHARE, UnlockAsker
from kiosk.net import messages as m
from kiosk.core.console import UnlockGrant
from kiosk.rep.service import RepService
from kiosk.state import Installed
from kiosk.trust import certs
from test_delivery import wait_for


@dataclass
class Locked:
    """A locked kiosk asking one console, and what came back."""

    kiosk: Installed
    service: RepService
    asker: UnlockAsker
    unlocked: list[Installed] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def kiosk_id(self) -> str:
        return self.kiosk.claims.device_id

    def asking_on_console(self) -> bool:
        return any(k.device == self.kiosk_id and k.asks_unlock for k in self.service.kiosks())


def _start(kiosk: Installed, console: Installed) -> Locked:
    service = RepService(console, host="127.0.0.1")
    service.start()
    found: Locked
    def got(opened: Installed) -> None:
        found.unlocked.append(opened)
        found.arrived.set()
    asker = UnlockAsker(kiosk, got)
    found = Locked(kiosk, service, asker)
    asker.endpoints_changed({console.claims.device_id: Endpoint.at(console.claims.device_id, "127.0.0.1",
                                                                   service.port)})
    return found


@pytest.fixture
def locked(world: World) -> Iterator[Locked]:
    kiosk = world.installed("k1", unlocked=False)
    console = world.console("rep1")
    found = _start(kiosk, console)
    yield found
    found.asker.close()
    found.service.close()


def test_the_representative_confirms_and_the_kiosk_unlocks(locked: Locked) -> None:
    wait_for(lambda: locked.asker.answer().consoles == 1)
    assert locked.service.grant_unlock(locked.kiosk_id, "rep-1") is UnlockGrant.NOT_ASKING   # staff did not ask
    locked.asker.ask()
    wait_for(locked.asking_on_console)
    assert locked.service.grant_unlock(locked.kiosk_id, "rep-1") is UnlockGrant.SENT
    assert locked.arrived.wait(30)
    [opened] = locked.unlocked
    assert opened.open_registry().lookup(PEOPLE["eligible"].code) is not None
    assert not Installed.open(locked.kiosk.state).locked
    wait_for(lambda: not locked.asking_on_console())


def test_the_representative_refuses_and_the_kiosk_stays_locked(locked: Locked) -> None:
    locked.asker.ask()
    wait_for(locked.asking_on_console)
    assert locked.service.deny_unlock(locked.kiosk_id, "rep-1")
    wait_for(lambda: locked.asker.answer().denied == m.REFUSED_BY_REP)
    assert locked.service.grant_unlock(locked.kiosk_id, "rep-1") is UnlockGrant.NOT_ASKING   # the ask was answered
    assert not locked.unlocked and Installed.open(locked.kiosk.state).locked


def test_a_locked_console_refuses_at_once(world: World) -> None:
    kiosk = world.installed("k1", unlocked=False)
    console = world.installed("rep1", certs.Role.REP, ("1001",), unlocked=False)
    found = _start(kiosk, console)
    try:
        found.asker.ask()
        wait_for(lambda: found.asker.answer().denied == m.CONSOLE_LOCKED)
        assert found.service.grant_unlock(found.kiosk_id, "rep-1") is UnlockGrant.CANNOT
        assert Installed.open(kiosk.state).locked
    finally:
        found.asker.close()
        found.service.close()


def test_a_console_of_another_branch_is_not_asked(world: World) -> None:
    kiosk = world.installed("k1", unlocked=False)
    console = world.console("rep2", branches=("1002",))
    found = _start(kiosk, console)
    try:
        found.asker.ask()
        assert not found.arrived.wait(2.0)
        assert found.asker.answer().consoles == 0
        assert found.service.grant_unlock(found.kiosk_id, "rep-2") is UnlockGrant.CANNOT   # not its kiosk either
    finally:
        found.asker.close()
        found.service.close()


def test_a_share_that_does_not_open_this_kiosk_changes_nothing(locked: Locked, world: World,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    other = world.installed("k2", unlocked=False)
    wrong = world.authority.device_secrets(other.claims.device_id).other_share
    monkeypatch.setattr(locked.service, "_share_for", lambda kiosk: wrong)   # a console gone wrong
    locked.asker.ask()
    wait_for(locked.asking_on_console)
    assert locked.service.grant_unlock(locked.kiosk_id, "rep-1") is UnlockGrant.SENT
    wait_for(lambda: locked.asker.answer().denied == WRONG_SHARE)
    assert not locked.unlocked and Installed.open(locked.kiosk.state).locked


def test_the_share_goes_only_to_the_kiosk_that_asked_on_its_own_link(world: World) -> None:
    """A grant goes by the asking link's device id: another kiosk of the branch is not sent this one's share."""
    kiosk = world.installed("k1", unlocked=False)
    other_state, _ = world.device("k2")
    console = world.console("rep1")   # holds the shares of k1 and k2
    other = certs.verify_device(certs.load_certificate((world.root / "k2.crt").read_bytes()),
                                world.authority.cert).device_id
    found = _start(kiosk, console)
    try:
        found.asker.ask()
        wait_for(found.asking_on_console)
        assert console.kiosk_share(other) is not None
        assert found.service.grant_unlock(other, "rep-1") is UnlockGrant.NOT_ASKING
        assert not found.arrived.wait(0.5)
        assert found.service.grant_unlock(found.kiosk_id, "rep-1") is UnlockGrant.SENT
        assert found.arrived.wait(30)
    finally:
        found.asker.close()
        found.service.close()
