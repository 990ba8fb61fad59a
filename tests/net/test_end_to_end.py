"""A kiosk process and a console process that find each other by zeroconf on loopback and talk mutual TLS.

Each is killed with SIGKILL at the worst moment and started again on the same
state folder: no case is lost and none is made twice.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import World, code, make_world
from kiosk.core.cases import CaseForm, CaseReason
from kiosk.core.jalali import JalaliDate
from kiosk.net import messages as m
from kiosk.net.channel import PeerPolicy, PeerRefused, TlsIdentity, connect
from kiosk.state import Installed
from kiosk.trust.certs import Role

REPO = Path(__file__).resolve().parents[2]


class Peer:
    """One peer process and its pipes."""

    def __init__(self, role: str, state: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen([sys.executable, str(REPO / "tests" / "net" / "peer.py"), role, str(state)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.ready = self.read()

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"peer exited with {self.process.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


def until(ask: Callable[[], Any], check: Callable[[Any], bool], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        answer = ask()
        if check(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time; last answer {answer}")
        time.sleep(0.1)


@pytest.fixture
def peers(world: World) -> Iterator[tuple[World, Path, Path, list[Peer]]]:
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    started: list[Peer] = []
    yield world, kiosk.state, console.state, started
    for peer in started:
        peer.stop()


def test_raised_decided_recorded_through_kills_of_either_side(peers: tuple[World, Path, Path, list[Peer]]) -> None:
    _, kiosk_state, console_state, started = peers
    console = Peer("console", console_state)
    kiosk = Peer("kiosk", kiosk_state)
    started += [console, kiosk]
    until(lambda: kiosk.ask(cmd="cases"), lambda a: a["consoles"] == 1)

    # 1. Raised and delivered; the console is killed before a decision, and restarted.
    first = kiosk.ask(cmd="raise")["case_id"]
    until(lambda: kiosk.ask(cmd="cases"), lambda a: a["cases"][first][0] == "delivered")
    console.kill()
    console = Peer("console", console_state)
    started.append(console)
    assert console.ask(cmd="cases")["cases"] == {first: ["open", False]}
    assert console.ask(cmd="decide", case_id=first, ruling="approve", code=code(77))["decided"]
    until(lambda: kiosk.ask(cmd="cases"), lambda a: a["cases"][first][0] == "decided")
    until(lambda: console.ask(cmd="cases"), lambda a: a["cases"][first] == ["decided", True])
    assert kiosk.ask(cmd="checkin", case_id=first)["result"] == "Recorded"
    assert kiosk.ask(cmd="checkin", case_id=first)["result"] == "NotApproved"

    # 2. The kiosk is killed right after raising a case, and restarted: delivered once.
    second = kiosk.ask(cmd="raise")["case_id"]
    kiosk.kill()
    kiosk = Peer("kiosk", kiosk_state)
    started.append(kiosk)
    until(lambda: kiosk.ask(cmd="cases"), lambda a: a["cases"][second][0] == "delivered")
    assert sorted(console.ask(cmd="cases")["cases"]) == [first, second]

    # 3. A replayed open_case from the kiosk's own identity changes nothing.
    identity = TlsIdentity.from_installed(Installed.open(kiosk_state))
    form = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "", CaseReason.NO_CODE)
    with connect("127.0.0.1", console.ready["port"], identity, PeerPolicy(Role.REP, frozenset({"1001"}))) as ch:
        ch.send(m.encode(m.OpenCase(second, "2026-05-22T08:30:00+00:00", form)))
        until(lambda: ch.receive(timeout=1.0), lambda p: p is not None and m.decode(p) == m.Ack(second, "case"))
    assert sorted(console.ask(cmd="cases")["cases"]) == [first, second]


def test_a_kiosk_of_a_foreign_authority_is_refused_and_changes_nothing(
        peers: tuple[World, Path, Path, list[Peer]], tmp_path: Path) -> None:
    _, _, console_state, started = peers
    console = Peer("console", console_state)
    started.append(console)
    forger = make_world(tmp_path / "forger")  # same election id, another authority: a forged kiosk
    identity = TlsIdentity.from_installed(forger.installed("fake-kiosk"))
    with pytest.raises(PeerRefused):
        connect("127.0.0.1", console.ready["port"], identity, PeerPolicy(Role.REP, frozenset({"1001"})))
    assert console.ask(cmd="cases")["cases"] == {}
