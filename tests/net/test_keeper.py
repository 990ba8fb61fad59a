"""The zeroconf keeper: started at once, restarted when the machine's addresses change, retried after a failure."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import pytest

from kiosk.net.discovery import DiscoveryError
from kiosk.net.keeper import DiscoveryKeeper


class Part:
    """Stands in for an advertiser or a browser."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Machine:
    """Addresses that a test changes, and a zeroconf that fails while told to."""

    def __init__(self, addresses: list[str], failing: bool = False) -> None:
        self.addresses = addresses
        self.failing = failing
        self.parts: list[Part] = []
        self.lock = threading.Lock()

    def read(self) -> list[str]:
        with self.lock:
            return list(self.addresses)

    def start(self) -> list[Part]:
        if self.failing:
            raise DiscoveryError("zeroconf could not register: ValueError")
        part = Part()
        self.parts.append(part)
        return [part]


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_zeroconf_starts_at_once_and_restarts_only_when_the_addresses_change() -> None:
    machine = Machine(["10.0.0.5"])
    keeper = DiscoveryKeeper("test", machine.start, poll=0.02, retry=60, addresses=machine.read)
    assert keeper.start() and keeper.running and len(machine.parts) == 1
    time.sleep(0.2)
    assert len(machine.parts) == 1                       # same addresses: left alone
    with machine.lock:
        machine.addresses = ["10.0.0.9"]                 # a new address (another switch, a re-plugged cable)
    wait_for(lambda: len(machine.parts) == 2)
    assert machine.parts[0].closed and not machine.parts[1].closed
    keeper.close()
    assert machine.parts[1].closed and not keeper.running


def test_a_machine_booted_without_an_address_advertises_once_it_has_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    machine = Machine([], failing=True)
    keeper = DiscoveryKeeper("test", machine.start, poll=0.02, retry=60, addresses=machine.read)
    assert not keeper.start() and not keeper.running
    time.sleep(0.2)
    failures = [json.loads(r.getMessage()) for r in caplog.records if '"N114"' in r.getMessage()]
    assert len(failures) == 1                            # logged once, not every poll
    with machine.lock:
        machine.failing = False
        machine.addresses = ["192.168.50.11"]
    wait_for(lambda: keeper.running)
    assert any('"N115"' in r.getMessage() for r in caplog.records)
    keeper.close()


def test_a_failure_without_an_address_change_is_retried_after_a_while() -> None:
    machine = Machine(["10.0.0.5"], failing=True)
    keeper = DiscoveryKeeper("test", machine.start, poll=0.02, retry=0.2, addresses=machine.read)
    assert not keeper.start()
    machine.failing = False                              # whatever held the port let go
    wait_for(lambda: keeper.running)
    keeper.close()
