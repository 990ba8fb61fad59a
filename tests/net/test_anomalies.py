"""Records the rules refuse to count, shown to people (issue 12, findings 1, 4, 5): on the kiosk's status bar and,
through the kiosk's status, on the representative's console. Real devices, real mutual TLS on loopback.

A rogue kiosk is played as the issue describes it: a kiosk of the branch, with its own keys, that writes
into its own signed ledger an undo of another kiosk's check-in, or rewrites its own history.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PEOPLE, World, data_keys
from kiosk.core.branch import PeerSeen, SyncStatus
from kiosk.core.console_flow import ConsoleFlow
from kiosk.core.staff import Role as StaffRole
from kiosk.net.courier import Courier
from kiosk.net.discovery import Endpoint
from kiosk.net.sync import BranchSync
from kiosk.rep.service import RepService
from kiosk.rep.ui.app import kiosks_banner
from kiosk.state import LEDGER, Installed
from kiosk.store.ledger import Kind, Ledger
from kiosk.store.replica import AnomalyKind, PageRefused, Replica
from kiosk.store.staff import StaffBook
from kiosk.trust.certs import cert_pem
from kiosk.ui.app import KioskRoot


def wait_for(condition: Callable[[], object], seconds: float = 30.0, seen: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met in time; seen: {seen()}")
        time.sleep(0.02)


def voter_of(installed: Installed, person: str) -> bytes:
    registry = installed.open_registry()
    try:
        return registry.voter_key(PEOPLE[person].code)
    finally:
        registry.close()


def rogue_undo(rogue: Ledger, voter: bytes, target: str) -> None:
    """What a rogue kiosk writes: an undo of another kiosk's check-in, signed by itself, with no authorization."""
    with rogue.transaction():
        rogue.append(Kind.UNDO, voter, target, "rogue")


def short(device: str) -> str:
    """How the console names a kiosk (the six characters its case ids carry)."""
    return device[:6].upper()


# -- the console ---------------------------------------------------------------------------------------------

def test_a_kiosk_holding_a_foreign_undo_reports_it_and_the_console_names_it(world: World, tmp_path: Path) -> None:
    kiosk, console = world.installed("kiosk1"), world.console("rep1")
    rogue = world.installed("kiosk2")
    me = kiosk.claims.device_id
    voter = voter_of(kiosk, "eligible")
    ledger, rogue_ledger = kiosk.open_ledger(), rogue.open_ledger()
    service: RepService | None = None
    courier: Courier | None = None
    try:
        ledger.check_in(voter)                                  # kiosk1:1
        rogue_undo(rogue_ledger, voter, f"{me}:1")
        replica = Replica(ledger, kiosk.authority_cert, cert_pem(kiosk.device_cert), kiosk.claims.branches,
                          roster=Installed.open(kiosk.state).roster())
        stored = replica.store(rogue.claims.device_id, cert_pem(rogue.device_cert),
                               list(rogue_ledger.events(rogue.claims.device_id)))
        assert not isinstance(stored, PageRefused), stored
        assert [a.kind for a in replica.anomalies()] == [AnomalyKind.FOREIGN_UNDO]
        service = RepService(console, host="127.0.0.1")
        service.start()
        courier = Courier(kiosk)
        courier.endpoints_changed({console.claims.device_id: Endpoint.at(console.claims.device_id, "127.0.0.1",
                                                                          service.port)})
        wait_for(lambda: [(k.device, k.anomalies) for k in service.kiosks()] == [(me, 1)],
                 seen=lambda: service.kiosks() if service else None)
        staff = StaffBook(tmp_path / "console-staff.json", data_keys())
        staff.set_pin("rep", "نماینده فرماندار", StaffRole.HEAD, "246802")
        flow = ConsoleFlow(service, staff, time.monotonic)
        assert [k.device for k in flow.state.anomalies] == [me]
        assert flow.state.duplicates == ()      # not a double check-in: a record that counts for nothing
        assert kiosks_banner("console.anomalies.banner", flow.state.anomalies, "en") == \
            f"Irregular records reported by: {short(me)}"
        assert kiosks_banner("console.anomalies.banner", flow.state.anomalies, "fa") == \
            f"ثبت ناهنجار در شعبه: {short(me)}"
    finally:
        if courier is not None:
            courier.close()
        if service is not None:
            service.close()
        ledger.close()
        rogue_ledger.close()


# -- the kiosk: branch sync counts what it stored or refused ---------------------------------------------------

@dataclass
class SyncKiosk:
    """A kiosk's branch sync on loopback, with a ledger of its own for the test to write in."""

    installed: Installed
    sync: BranchSync
    ledger: Ledger

    @property
    def device(self) -> str:
        return self.installed.claims.device_id

    def endpoint(self) -> Endpoint:
        return Endpoint.at(self.device, "127.0.0.1", self.sync.port)

    def sees(self, other: SyncKiosk) -> None:
        self.sync.endpoints_changed({other.device: other.endpoint()})

    def close(self) -> None:
        self.sync.close()
        self.ledger.close()


def start(installed: Installed) -> SyncKiosk:
    sync = BranchSync(installed, host="127.0.0.1")
    sync.start(discover=False)
    return SyncKiosk(installed, sync, installed.open_ledger())


@pytest.fixture
def pair(world: World) -> Iterator[tuple[Installed, Installed]]:
    mine, rogue = world.installed("kiosk1"), world.installed("kiosk2")
    yield Installed.open(mine.state), Installed.open(rogue.state)   # each with the other in its roster


def linked(a: SyncKiosk, b: SyncKiosk) -> None:
    a.sees(b)
    b.sees(a)


def test_a_foreign_undo_synced_in_shows_on_the_status_bar_and_again_after_a_restart(
        pair: tuple[Installed, Installed]) -> None:
    a, rogue = start(pair[0]), start(pair[1])
    try:
        a.ledger.check_in(voter_of(a.installed, "eligible"))
        rogue_undo(rogue.ledger, voter_of(a.installed, "eligible"), f"{a.device}:1")
        assert a.sync.status().anomalies == 0
        linked(a, rogue)
        wait_for(lambda: a.sync.status().anomalies == 1, seen=a.sync.status)
        assert KioskRoot.sync_text(a.sync.status(), "en").splitlines()[-1] == "Irregular records: 1"
        assert KioskRoot.sync_text(a.sync.status(), "fa").splitlines()[-1] == "ثبت ناهنجار: ۱"
    finally:
        a.close()
        rogue.close()
    again = start(pair[0])   # restarted, alone: the evidence it keeps shows before any peer links
    try:
        assert again.sync.status().anomalies == 1
        assert KioskRoot.sync_text(again.sync.status(), "en") == "Irregular records: 1"
    finally:
        again.close()


def test_a_kiosk_that_signed_two_versions_of_one_entry_shows_once_its_page_is_refused(
        pair: tuple[Installed, Installed]) -> None:
    a, rogue = start(pair[0]), start(pair[1])
    try:
        rogue.ledger.check_in(voter_of(a.installed, "eligible"))              # rogue:1
        linked(a, rogue)
        replica = Replica(a.ledger, a.installed.authority_cert, cert_pem(a.installed.device_cert),
                          a.installed.claims.branches, roster=a.installed.roster())
        wait_for(lambda: replica.heads().get(rogue.device) == 1)
        assert a.sync.status().anomalies == 0
    finally:
        rogue.close()
    # The rogue throws its ledger away and signs another entry 1 with the same key.
    for leftover in rogue.installed.state.glob(f"{LEDGER}*"):
        leftover.unlink()
    rewritten = start(pair[1])
    try:
        # Entry 1 again, for another voter, and an entry 2 that follows it: sync sends what a lacks (2'),
        # and its link to the 1' that a does not hold gives the rewrite away.
        rewritten.ledger.check_in(voter_of(a.installed, "birthday_today"))
        rewritten.ledger.check_in(voter_of(a.installed, "one_day_short"))
        linked(a, rewritten)
        wait_for(lambda: a.sync.status().anomalies == 1, seen=a.sync.status)
        assert [x.kind for x in replica.anomalies()] == [AnomalyKind.EQUIVOCATION]
        assert KioskRoot.sync_text(a.sync.status(), "en").splitlines()[-1] == "Irregular records: 1"
    finally:
        rewritten.close()
        a.close()


def test_the_status_bar_counts_irregular_records_in_both_languages() -> None:
    text = KioskRoot.sync_text
    assert text(SyncStatus(anomalies=0), "en") == ""                       # nothing to show: the cell takes no room
    assert text(SyncStatus(anomalies=2), "en") == "Irregular records: 2"  # a kiosk alone keeps its evidence
    assert text(SyncStatus(anomalies=2), "fa") == "ثبت ناهنجار: ۲"
    peers = (PeerSeen("a", True, "", 0), PeerSeen("b", True, "", 3))
    assert text(SyncStatus(peers, anomalies=12), "en") == "Kiosks: 2 linked\nIrregular records: 12"
    assert text(SyncStatus(peers, anomalies=12), "fa") == "دستگاه‌ها: ۲ وصل\nثبت ناهنجار: ۱۲"
    assert text(SyncStatus(peers), "en") == "Kiosks: 2 linked\nBehind: 3 events"   # none: as before
