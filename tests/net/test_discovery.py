"""Discovery: a kiosk finds its console (and only its console) by zeroconf, on loopback and across namespaces."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from kiosk.net.discovery import (
    PROTOCOL_VERSION, REP_SERVICE, SYNC_SERVICE, Advert, Advertiser, Browser, Endpoint,
)

# Only loopback in the host namespace: this machine has a real interface (TOOLCHAIN.md).
LOOPBACK = ["127.0.0.1"]
ROOT = Path(__file__).resolve().parents[2]
FP = "0f" * 32


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, seen: Callable[[], object] = lambda: "") -> None:
    """Poll every 50 ms until the condition holds; fail at the deadline, saying what was seen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s; seen: {seen()}")
        time.sleep(0.05)


def new_device() -> str:
    return secrets.token_hex(8)


@pytest.fixture
def election() -> str:
    """An election id of this test alone, so adverts of other tests or processes on loopback are ignored."""
    return f"e-{secrets.token_hex(4)}"


class Net:
    """Starts advertisers, browsers and raw zeroconf registrations on loopback; closes them all at the end."""

    def __init__(self) -> None:
        self._closers: list[Callable[[], None]] = []
        self.changes: list[dict[str, Endpoint]] = []

    def advertise(self, advert: Advert, service: str = REP_SERVICE) -> Advertiser:
        advertiser = Advertiser(service, advert, interfaces=LOOPBACK)
        self._closers.append(advertiser.close)
        advertiser.start()
        return advertiser

    def browse(self, election: str, branches: list[str], service: str = REP_SERVICE,
               on_change: Callable[[dict[str, Endpoint]], None] | None = None) -> Browser:
        browser = Browser(service, election, branches, on_change=on_change or self.changes.append,
                          interfaces=LOOPBACK)
        self._closers.append(browser.close)
        browser.start()
        return browser

    def raw(self, device_or_name: str, txt: dict[str, str], port: int = 4443,
            addresses: list[str] | None = None) -> tuple[Zeroconf, ServiceInfo]:
        """Register a service directly with zeroconf, TXT exactly as given."""
        zc = Zeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
        self._closers.append(zc.close)
        info = raw_info(device_or_name, txt, port, addresses or LOOPBACK)
        zc.register_service(info, cooperating_responders=True)
        return zc, info

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def raw_info(device_or_name: str, txt: dict[str, str], port: int, addresses: list[str]) -> ServiceInfo:
    return ServiceInfo(REP_SERVICE, f"{device_or_name}.{REP_SERVICE}", port=port, properties=txt,
                       server=f"{device_or_name}.local.", parsed_addresses=addresses)


def good_txt(device: str, election: str, branches: str = "12") -> dict[str, str]:
    return {"v": PROTOCOL_VERSION, "election": election, "branches": branches, "fp": FP, "device": device}


@pytest.fixture
def net() -> Iterator[Net]:
    made = Net()
    yield made
    made.close()


def test_browser_finds_console_with_its_details(net: Net, election: str) -> None:
    device = new_device()
    browser = net.browse(election, ["40"])
    net.advertise(Advert(device, 4443, election, ("12", "40"), FP))
    wait_for(lambda: device in browser.endpoints())
    # An advert gives an address, nothing more: who the device is comes from the roster.
    assert browser.endpoints()[device] == Endpoint(device, (("127.0.0.1", 4443),))
    assert net.changes[-1] == browser.endpoints()


def test_browser_started_after_console_finds_it(net: Net, election: str) -> None:
    device = new_device()
    net.advertise(Advert(device, 4443, election, ("12",), FP))
    browser = net.browse(election, ["12"])
    wait_for(lambda: device in browser.endpoints())


def test_consoles_of_another_election_branch_or_version_are_ignored(net: Net, election: str) -> None:
    ours, other_election, other_branch, other_version = (new_device() for _ in range(4))
    browser = net.browse(election, ["12"])
    net.advertise(Advert(other_election, 4443, f"{election}-x", ("12",), FP))
    net.advertise(Advert(other_branch, 4443, election, ("13", "14"), FP))
    net.raw(other_version, {**good_txt(other_version, election), "v": "2"})
    net.advertise(Advert(ours, 4443, election, ("11", "12"), FP))
    wait_for(lambda: ours in browser.endpoints() and len(browser.ignored().keys() & {
        other_election, other_branch, other_version}) == 3)
    ignored = browser.ignored()
    assert (ignored[other_election], ignored[other_branch], ignored[other_version]) == ("election", "branch", "version")
    assert set(browser.endpoints()) == {ours}
    assert all(set(change) <= {ours} for change in net.changes)


MALFORMED: dict[str, Callable[[dict[str, str]], object]] = {
    "bad fp": lambda txt: txt.update(fp="xyz"),
    "uppercase fp": lambda txt: txt.update(fp=FP.upper()),
    "missing field": lambda txt: txt.pop("fp"),
    "missing version": lambda txt: txt.pop("v"),
    "empty version": lambda txt: txt.update(v=""),
    "extra field": lambda txt: txt.update(role="rep"),
    "uppercase device": lambda txt: txt.update(device=txt["device"].upper()),
    "device not the instance name": lambda txt: txt.update(device=new_device()),
    "branch with a space": lambda txt: txt.update(branches="12,1 3"),
    "empty branch": lambda txt: txt.update(branches="12,"),
    "empty election": lambda txt: txt.update(election=""),
    "not ascii": lambda txt: txt.update(election=txt["election"] + "\u00e9"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_adverts_are_ignored(net: Net, election: str, case: str) -> None:
    device = new_device()
    txt = good_txt(device, election)
    MALFORMED[case](txt)
    # Keyed by the device id only when it is well formed and names the instance; else by the instance name.
    key = device if txt.get("device") == device and case != "not ascii" else f"{device}.{REP_SERVICE}"
    browser = net.browse(election, ["12"])
    net.raw(device, txt)
    wait_for(lambda: key in browser.ignored())
    assert browser.ignored()[key] == "malformed"
    assert browser.endpoints() == {}
    assert net.changes == []


def test_a_port_of_zero_is_malformed(net: Net, election: str) -> None:
    device = new_device()
    browser = net.browse(election, ["12"])
    net.raw(device, good_txt(device, election), port=0)
    wait_for(lambda: browser.ignored().get(device) == "malformed")
    assert browser.endpoints() == {}


def test_late_console_is_found_and_its_goodbye_removes_it(net: Net, election: str) -> None:
    device = new_device()
    browser = net.browse(election, ["12"])
    time.sleep(0.3)  # past the browser's first query: the console appears later
    advertiser = net.advertise(Advert(device, 4443, election, ("12",), FP))
    wait_for(lambda: device in browser.endpoints())
    advertiser.close()
    wait_for(lambda: device not in browser.endpoints())
    assert [set(change) for change in net.changes] == [{device}, set()]


def test_new_port_is_seen(net: Net, election: str) -> None:
    device = new_device()
    browser = net.browse(election, ["12"])
    advertiser = net.advertise(Advert(device, 4443, election, ("12",), FP))
    wait_for(lambda: device in browser.endpoints())
    advertiser.update(Advert(device, 5555, election, ("12",), FP))
    wait_for(lambda: browser.endpoints()[device].port == 5555)
    assert net.changes[-1][device].port == 5555


def test_new_address_is_seen(net: Net, election: str) -> None:
    device = new_device()
    browser = net.browse(election, ["12"])
    zc, _ = net.raw(device, good_txt(device, election), addresses=["127.0.0.1"])
    wait_for(lambda: device in browser.endpoints())
    zc.update_service(raw_info(device, good_txt(device, election), 4443, ["127.0.0.2"]))
    wait_for(lambda: browser.endpoints()[device].host == "127.0.0.2")
    assert net.changes[-1][device].host == "127.0.0.2"


def test_an_advert_of_another_election_under_a_known_id_takes_nothing_away(net: Net, election: str) -> None:
    # Anyone can advertise under a device's name: an advert adds an address or nothing, never removes one.
    device = new_device()
    browser = net.browse(election, ["12"])
    zc, _ = net.raw(device, good_txt(device, election))
    wait_for(lambda: device in browser.endpoints())
    zc.update_service(raw_info(device, good_txt(device, "elsewhere"), 4443, LOOPBACK))
    wait_for(lambda: browser.ignored().get(device) == "election")
    assert browser.endpoints()[device].addresses == (("127.0.0.1", 4443),)


def test_two_consoles_at_once_are_both_found(net: Net, election: str) -> None:
    first, second = new_device(), new_device()
    browser = net.browse(election, ["12"])
    net.advertise(Advert(first, 4443, election, ("12",), FP))
    net.advertise(Advert(second, 4444, election, ("12",), FP))
    wait_for(lambda: browser.endpoints().keys() >= {first, second})
    assert (browser.endpoints()[first].port, browser.endpoints()[second].port) == (4443, 4444)


def test_service_types_are_kept_apart(net: Net, election: str) -> None:
    rep, sync = new_device(), new_device()
    reps = net.browse(election, ["12"], REP_SERVICE)
    syncs = net.browse(election, ["12"], SYNC_SERVICE)
    net.advertise(Advert(rep, 4443, election, ("12",), FP), REP_SERVICE)
    net.advertise(Advert(sync, 4444, election, ("12",), FP), SYNC_SERVICE)
    wait_for(lambda: rep in reps.endpoints() and sync in syncs.endpoints())
    assert set(reps.endpoints()) == {rep} and set(syncs.endpoints()) == {sync}
    assert syncs.endpoints()[sync].port == 4444


def test_a_raising_listener_does_not_stop_discovery(net: Net, election: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    first, second = new_device(), new_device()

    def broken(endpoints: dict[str, Endpoint]) -> None:
        raise KeyError("listener bug")

    browser = net.browse(election, ["12"], on_change=broken)
    net.advertise(Advert(first, 4443, election, ("12",), FP))
    wait_for(lambda: first in browser.endpoints())
    net.advertise(Advert(second, 4444, election, ("12",), FP))
    wait_for(lambda: second in browser.endpoints())
    failures = [json.loads(r.getMessage()) for r in caplog.records if '"H001"' in r.getMessage()]
    assert len(failures) >= 2 and failures[0]["error"] == "KeyError"


def test_found_and_lost_are_logged(net: Net, election: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk")
    device = new_device()
    browser = net.browse(election, ["12"])
    advertiser = net.advertise(Advert(device, 4443, election, ("12",), FP))
    wait_for(lambda: device in browser.endpoints())
    advertiser.close()
    wait_for(lambda: device not in browser.endpoints())
    events = [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "kiosk"]
    assert events.count("N113") == 1 and events.count("N110") == 1 and events.count("N111") == 1


@pytest.mark.parametrize("field, value", [
    ("device", "0123"), ("fingerprint", "AB" * 32), ("port", 0), ("branches", ()), ("branches", ("1 2",)),
    ("election", ""), ("branches", tuple(str(n) for n in range(100, 200))),
])
def test_an_advert_browsers_would_refuse_is_refused_before_sending(field: str, value: Any) -> None:
    fields: dict[str, Any] = {"device": new_device(), "port": 4443, "election": "e", "branches": ("1",), "fingerprint": FP}
    with pytest.raises(ValueError):
        Advertiser(REP_SERVICE, Advert(**{**fields, field: value}), interfaces=LOOPBACK)


def test_the_device_id_of_a_running_advertiser_cannot_change(net: Net, election: str) -> None:
    advertiser = net.advertise(Advert(new_device(), 4443, election, ("12",), FP))
    with pytest.raises(ValueError):
        advertiser.update(Advert(new_device(), 4443, election, ("12",), FP))


def test_close_is_safe_twice_and_before_start(election: str) -> None:
    browser = Browser(REP_SERVICE, election, ["12"], interfaces=LOOPBACK)
    advertiser = Advertiser(REP_SERVICE, Advert(new_device(), 4443, election, ("12",), FP), interfaces=LOOPBACK)
    browser.close()
    advertiser.close()
    browser.start()
    advertiser.start()
    for _ in range(2):
        browser.close()
        advertiser.close()


# --- Across network namespaces: zeroconf on every interface, as on a branch LAN. ---

class Peer:
    """A netns_peer.py process in one namespace; its output lines are collected by a reader thread."""

    def __init__(self, namespace: str, *args: str) -> None:
        self.lines: list[str] = []
        self._stderr = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(Path(__file__).with_name("netns_peer.py")), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self._reader = threading.Thread(target=self._read, name="peer-reader")
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str]:
        """Close stdin (the peer closes), wait for the exit; return code and stderr."""
        assert self.process.stdin is not None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join()
        self._stderr.seek(0)
        err = self._stderr.read()
        self._stderr.close()
        return self.process.returncode, err

    def browsed(self) -> list[dict[str, dict[str, Any]]]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str, str]]:
    """Two namespaces joined by a veth pair (10.213.0.1 and .2, inside them only); removed even on failure."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip`")
    tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
    console, kiosk, veth = f"kzc{tag}", f"kzk{tag}", f"kzv{tag}"
    made: list[str] = []
    try:
        for namespace in (console, kiosk):
            ip("netns", "add", namespace)
            made.append(namespace)
        # Created inside the console namespace: no interface ever appears in the host's namespace.
        ip("-n", console, "link", "add", f"{veth}a", "type", "veth", "peer", "name", f"{veth}b", "netns", kiosk)
        ip("-n", console, "addr", "add", "10.213.0.1/24", "dev", f"{veth}a")
        ip("-n", kiosk, "addr", "add", "10.213.0.2/24", "dev", f"{veth}b")
        for namespace, end in ((console, f"{veth}a"), (kiosk, f"{veth}b")):
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "link", "set", end, "up")
    except subprocess.CalledProcessError as exc:
        for namespace in made:
            ip("netns", "del", namespace)
        # Root with iproute2 can always make them on Debian: a refusal is a broken machine, not a reason to skip.
        pytest.fail(f"cannot make network namespaces as root: {exc.stderr.strip()}")
    try:
        yield console, kiosk, f"{veth}a"
    finally:
        for namespace in made:
            ip("netns", "del", namespace)


def test_kiosk_finds_console_across_namespaces_and_survives_a_cut_link(namespaces: tuple[str, str, str]) -> None:
    console_ns, kiosk_ns, console_end = namespaces
    device, election = new_device(), "ns-election"
    browser = Peer(kiosk_ns, "browse", election, "7")
    advertiser = Peer(console_ns, "advertise", device, "4443", election, "7")
    try:
        wait_for(lambda: any(c.get(device) == {"host": "10.213.0.1", "port": 4443} for c in browser.browsed()),
                 seen=lambda: (advertiser.lines, browser.lines))

        # The console's address changes (a re-plugged cable, a new lease) and it re-announces.
        ip("-n", console_ns, "addr", "del", "10.213.0.1/24", "dev", console_end)
        ip("-n", console_ns, "addr", "add", "10.213.0.3/24", "dev", console_end)
        advertiser.send("update 4444")
        wait_for(lambda: any(c.get(device) == {"host": "10.213.0.3", "port": 4444} for c in browser.browsed()),
                 seen=lambda: (advertiser.lines, browser.lines))

        ip("-n", console_ns, "link", "set", console_end, "down")
        advertiser.send("update 4445")  # announcing into a dead link must not crash either side
        wait_for(lambda: advertiser.lines.count("updated") == 2)
        assert browser.process.poll() is None and advertiser.process.poll() is None
    finally:
        results = advertiser.finish(), browser.finish()
    for peer, (code, err) in zip((advertiser, browser), results):
        assert (code, peer.lines[0], peer.lines[-1]) == (0, "ready", "closed"), err
        assert "Traceback" not in err
