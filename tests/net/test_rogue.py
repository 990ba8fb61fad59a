"""Finding 7: a rogue advert cannot take the console's place; adverts give addresses only, for roster devices only.

Real zeroconf on loopback (never the machine's interface) and real mutual TLS.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from helpers import World, make_world
from kiosk.core.cases import CaseForm, CaseReason
from kiosk.core.jalali import JalaliDate
from kiosk.desk import CaseDesk
from kiosk.net.courier import Courier
from kiosk.net.discovery import MAX_ADDRESSES, PROTOCOL_VERSION, REP_SERVICE, Browser, Endpoint
from kiosk.rep.console import Console
from kiosk.rep.service import RepService
from kiosk.state import Installed
from kiosk.trust.certs import Role
from kiosk.trust.live import LiveRoster, admits

LOOPBACK = ["127.0.0.1"]
FORM = CaseForm("مریم", "رضایی", "حسن", JalaliDate(1370, 5, 1), "456", "", CaseReason.NO_CODE)


def wait_for(condition: Callable[[], object], seconds: float = 30.0, seen: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met in time; seen: {seen()}")
        time.sleep(0.05)


@pytest.fixture
def branch(tmp_path: Path) -> World:
    """An election of this test alone, so adverts of other tests on loopback are ignored."""
    return make_world(tmp_path, election_id=f"rogue-{secrets.token_hex(4)}")


class Lan:
    """Closes what a test started on loopback, last first."""

    def __init__(self) -> None:
        self.closers: list[Callable[[], None]] = []

    def browser(self, kiosk: Installed, changes: list[dict[str, Endpoint]]) -> Browser:
        """The kiosk's console browser, wired as kiosk.ui.lan wires it."""
        live = LiveRoster(kiosk)
        branches = kiosk.claims.branches
        browser = Browser(REP_SERVICE, kiosk.config.id, branches, on_change=changes.append, interfaces=LOOPBACK,
                          known=lambda device: admits(live.source, device, Role.REP, branches))
        self.closers.append(browser.close)
        browser.start()
        return browser

    def adverts(self, infos: list[ServiceInfo]) -> None:
        """Register services exactly as given (any name, any TXT), all at once."""
        zc = Zeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
        self.closers.append(zc.close)

        async def register() -> None:
            await asyncio.gather(*[await zc.async_register_service(i, cooperating_responders=True) for i in infos])
        asyncio.run_coroutine_threadsafe(register(), zc.loop).result(10)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


@pytest.fixture
def lan() -> Iterator[Lan]:
    made = Lan()
    yield made
    made.close()


def advert(name: str, device: str, election: str, fingerprint: str, port: int, server: str) -> ServiceInfo:
    txt = {"v": PROTOCOL_VERSION, "election": election, "branches": "1001", "fp": fingerprint, "device": device}
    return ServiceInfo(REP_SERVICE, f"{name}.{REP_SERVICE}", port=port, properties=txt, server=server,
                       parsed_addresses=LOOPBACK)


def test_a_rogue_advert_in_the_consoles_name_costs_one_failed_dial_and_the_kiosk_links_to_the_console(
        branch: World, lan: Lan) -> None:
    kiosk, real, impostor = branch.installed("kiosk1"), branch.console("rep1"), branch.console("rep2")
    console = Console.start(real, LOOPBACK)
    lan.closers.append(console.close)
    # The rogue: an enrolled console of the branch (say, a stolen one) serving TLS, advertising under rep1's id
    # with its own address and its own certificate's fingerprint.
    rogue = RepService(impostor, host="127.0.0.1")
    rogue.start()
    lan.closers.append(rogue.close)
    rep1 = real.claims.device_id
    changes: list[dict[str, Endpoint]] = []
    browser = lan.browser(kiosk, changes)
    wait_for(lambda: rep1 in browser.endpoints(), seen=browser.ignored)
    lan.adverts([advert(rep1, rep1, kiosk.config.id, rogue.identity.fingerprint, rogue.port,
                        f"rogue-{secrets.token_hex(4)}.local.")])
    wait_for(lambda: len(browser.endpoints()[rep1].addresses) == 2, seen=browser.endpoints)
    # The rogue added one address; the console's own is still there.
    assert browser.endpoints()[rep1].addresses == (("127.0.0.1", rogue.port), ("127.0.0.1", console.service.port))

    courier = Courier(kiosk)
    lan.closers.append(courier.close)
    ledger, registry = kiosk.open_ledger(), kiosk.open_registry()
    lan.closers += [ledger.close, registry.close]
    cases = CaseDesk(kiosk.open_outbox(ledger), kiosk.config.rules, ledger, registry, courier.poke)
    courier.endpoints_changed(browser.endpoints())
    case = cases.raise_case(FORM)
    assert not isinstance(case, list)

    # What staff and the representative see: the case is on the real console, the kiosk shows one console.
    wait_for(lambda: [c.case_id for c in console.service.open_cases()] == [case.case_id])
    assert courier.status().consoles == 1
    assert [k.device for k in console.service.kiosks() if k.online] == [kiosk.claims.device_id]
    assert rogue.open_cases() == [] and not any(k.online for k in rogue.kiosks())


def test_thirty_adverts_for_unknown_device_ids_add_no_endpoint(branch: World, lan: Lan) -> None:
    kiosk, real = branch.installed("kiosk1"), branch.console("rep1")
    changes: list[dict[str, Endpoint]] = []
    browser = lan.browser(kiosk, changes)
    fakes = [secrets.token_hex(8) for _ in range(30)]
    lan.adverts([advert(d, d, kiosk.config.id, secrets.token_hex(32), 4000 + n, f"{d}.local.")
                 for n, d in enumerate(fakes)])
    console = Console.start(real, LOOPBACK)
    lan.closers.append(console.close)
    rep1 = real.claims.device_id
    wait_for(lambda: rep1 in browser.endpoints() and len(set(fakes) & set(browser.ignored())) == 30,
             seen=lambda: (browser.endpoints(), len(browser.ignored())))
    assert set(browser.endpoints()) == {rep1}
    assert all(set(change) <= {rep1} for change in changes)
    assert {browser.ignored()[d] for d in fakes} == {"roster"}


def test_adverts_naming_a_real_device_keep_a_few_addresses_most_recent_first(branch: World, lan: Lan) -> None:
    kiosk, real = branch.installed("kiosk1"), branch.console("rep1")
    rep1 = real.claims.device_id
    changes: list[dict[str, Endpoint]] = []
    browser = lan.browser(kiosk, changes)
    for n in range(MAX_ADDRESSES + 2):   # one advert at a time, each from "another host" with another port
        lan.adverts([advert(rep1, rep1, kiosk.config.id, secrets.token_hex(32), 5000 + n,
                            f"host{n}-{secrets.token_hex(3)}.local.")])
        wait_for(lambda n=n: ("127.0.0.1", 5000 + n) in browser.endpoints().get(rep1, Endpoint(rep1, ())).addresses,
                 seen=browser.endpoints)
    assert browser.endpoints()[rep1].addresses == tuple(("127.0.0.1", 5000 + n)
                                                        for n in range(MAX_ADDRESSES + 1, 1, -1))
