"""Double check-ins in the check-in flow: a notice where staff are, a list on its own screen, acknowledged one by one."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers import PEOPLE, World, data_keys
from kiosk.core.branch import Duplicate
from kiosk.core.eligibility import Verdict
from kiosk.core.flow import CheckInFlow, Notice, Screen
from kiosk.core.staff import Role
from kiosk.desk import Desk
from kiosk.store.ledger import Kind
from kiosk.store.replica import Replica
from kiosk.store.staff import StaffBook
from kiosk.trust import certs


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class FakeDuplicates:
    """The flow's DuplicatePort kept in a list, with a full disk on demand."""

    def __init__(self) -> None:
        self.items: list[Duplicate] = []
        self.acknowledged: list[tuple[tuple[str, ...], str]] = []
        self.fail_next: OSError | None = None

    def duplicates(self) -> list[Duplicate]:
        return [d for d in self.items if not d.acknowledged]

    def acknowledge(self, duplicate: Duplicate, account: str) -> object:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.items = [replace(d, acknowledged="2026-11-25T09:00:00.000+00:00") if d == duplicate else d
                      for d in self.items]
        self.acknowledged.append((duplicate.check_ins, account))
        return object()

    def found(self, n: int) -> Duplicate:
        """Sync found voter n checked in on this kiosk and on another one."""
        duplicate = Duplicate(bytes([n]) * 16, (f"aaaa1111bbbb2222:{n}", f"cccc3333dddd4444:{n + 10}"),
                              f"2026-11-25T08:{n:02d}:00.000+00:00", "")
        self.items.append(duplicate)
        return duplicate


Setup = tuple[CheckInFlow, Clock, FakeDuplicates]


@pytest.fixture
def staff(tmp_path: Path) -> StaffBook:
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("head", "رئیس", Role.HEAD, "135790")
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    return staff


@pytest.fixture
def setup(world: World, staff: StaffBook) -> Setup:
    installed = world.installed()
    desk = Desk(installed.open_registry(), installed.open_ledger(), installed.config.rules)
    port = FakeDuplicates()
    flow = CheckInFlow(desk, staff, clock := Clock(), idle_lock_seconds=300, duplicates=port)
    return flow, clock, port


def test_a_double_check_in_is_a_notice_on_the_screen_staff_are_on_and_the_idle_timer_keeps_running(
        setup: Setup) -> None:
    flow, clock, port = setup
    flow.sign_in("w1", "246802")
    assert flow.state.notice is None and flow.state.duplicates == ()
    flow.code_entered(PEOPLE["eligible"].code)
    clock.now += 299
    port.found(1)
    flow.duplicates_changed()
    state = flow.state
    assert (state.screen, state.notice, len(state.duplicates)) == (Screen.VERDICT, Notice.DUPLICATE_CHECK_IN, 1)
    assert state.outcome is not None and state.outcome.verdict is Verdict.ELIGIBLE  # the person on screen stays
    clock.now += 1
    flow.tick()
    assert flow.state.screen is Screen.SIGN_IN  # sync is not staff at the kiosk: it does not keep it unlocked
    assert len(flow.state.duplicates) == 1


def test_the_same_double_check_in_told_again_does_not_bring_the_notice_back(setup: Setup) -> None:
    flow, _, port = setup
    flow.sign_in("w1", "246802")
    port.found(1)
    flow.duplicates_changed()
    flow.code_entered("12345", typed=False)   # scanned: a verdict screen
    assert flow.state.notice is None  # a new verdict replaces the notice; the list stays
    flow.duplicates_changed()
    assert flow.state.notice is None and len(flow.state.duplicates) == 1
    port.found(2)
    flow.duplicates_changed()
    assert (flow.state.screen, flow.state.notice) == (Screen.VERDICT, Notice.DUPLICATE_CHECK_IN)
    assert [d.check_ins[0] for d in flow.state.duplicates] == ["aaaa1111bbbb2222:1", "aaaa1111bbbb2222:2"]


def test_found_while_locked_the_notice_waits_for_whoever_signs_in(setup: Setup) -> None:
    flow, _, port = setup
    flow.sign_in("w1", "0000")
    port.found(1)
    flow.duplicates_changed()
    assert (flow.state.screen, flow.state.notice) == (Screen.SIGN_IN, Notice.WRONG_PIN)
    assert len(flow.state.duplicates) == 1
    flow.sign_in("w1", "246802")
    assert (flow.state.screen, flow.state.notice) == (Screen.READY, Notice.DUPLICATE_CHECK_IN)


def test_a_kiosk_started_with_double_check_ins_shows_them_at_sign_in(staff: StaffBook, world: World) -> None:
    installed = world.installed()
    desk = Desk(installed.open_registry(), installed.open_ledger(), installed.config.rules)
    port = FakeDuplicates()
    port.found(3)
    flow = CheckInFlow(desk, staff, Clock(), duplicates=port)
    assert len(flow.state.duplicates) == 1 and flow.state.notice is None
    flow.sign_in("head", "135790")
    assert flow.state.notice is Notice.DUPLICATE_CHECK_IN


def test_any_staff_acknowledges_each_one_with_their_account_then_ready_again(setup: Setup) -> None:
    flow, _, port = setup
    port.found(1)
    port.found(2)
    flow.sign_in("w1", "246802")
    flow.show_duplicates()
    assert (flow.state.screen, flow.state.notice, len(flow.state.duplicates)) == (Screen.DUPLICATES, None, 2)
    flow.acknowledge_duplicate(2)  # no such row: nothing happens
    flow.acknowledge_duplicate(-1)
    assert port.acknowledged == [] and len(flow.state.duplicates) == 2
    flow.acknowledge_duplicate(1)
    assert port.acknowledged == [(("aaaa1111bbbb2222:2", "cccc3333dddd4444:12"), "w1")]
    assert flow.state.screen is Screen.DUPLICATES
    assert [d.check_ins[0] for d in flow.state.duplicates] == ["aaaa1111bbbb2222:1"]
    flow.acknowledge_duplicate(0)
    assert (flow.state.screen, flow.state.notice, flow.state.duplicates) == (Screen.READY, None, ())
    assert [account for _, account in port.acknowledged] == ["w1", "w1"]
    flow.duplicates_changed()
    assert flow.state.notice is None


def test_back_from_the_list_and_the_list_only_from_ready(setup: Setup) -> None:
    flow, _, port = setup
    flow.sign_in("w1", "246802")
    flow.show_duplicates()
    assert flow.state.screen is Screen.READY  # nothing to show
    port.found(1)
    flow.code_entered(PEOPLE["eligible"].code)
    flow.show_duplicates()
    assert flow.state.screen is Screen.VERDICT  # not over a person on screen
    flow.cancel()
    flow.show_duplicates()
    assert flow.state.screen is Screen.DUPLICATES
    flow.cancel()
    assert flow.state.screen is Screen.READY and len(flow.state.duplicates) == 1
    flow.show_duplicates()
    flow.lock()
    flow.acknowledge_duplicate(0)
    assert port.acknowledged == [] and flow.state.screen is Screen.SIGN_IN


def test_a_full_disk_records_nothing_and_keeps_the_row(setup: Setup) -> None:
    flow, _, port = setup
    port.found(1)
    flow.sign_in("head", "135790")
    flow.show_duplicates()
    port.fail_next = OSError(28, "No space left on device")
    flow.acknowledge_duplicate(0)
    assert (flow.state.screen, flow.state.notice, len(flow.state.duplicates)) == \
        (Screen.DUPLICATES, Notice.NOT_RECORDED, 1)
    flow.acknowledge_duplicate(0)
    assert flow.state.screen is Screen.READY and port.acknowledged == [(("aaaa1111bbbb2222:1",
                                                                         "cccc3333dddd4444:11"), "head")]


def test_a_kiosk_without_branch_sync_has_no_double_check_ins(world: World, staff: StaffBook) -> None:
    installed = world.installed()
    desk = Desk(installed.open_registry(), installed.open_ledger(), installed.config.rules)
    flow = CheckInFlow(desk, staff, Clock())  # the constructor calls of before still work
    flow.sign_in("w1", "246802")
    flow.duplicates_changed()
    flow.show_duplicates()
    flow.acknowledge_duplicate(0)
    assert (flow.state.screen, flow.state.notice, flow.state.duplicates) == (Screen.READY, None, ())


def test_a_voter_checked_in_on_two_kiosks_is_acknowledged_in_the_ledger(world: World, staff: StaffBook) -> None:
    """The real replica as the port: two ledgers, the same voter on both, the other kiosk's events stored here."""
    one, two = world.installed("kiosk1"), world.installed("kiosk2")
    registry, ledger, other = one.open_registry(), one.open_ledger(), two.open_ledger()
    voter = registry.voter_key(PEOPLE["eligible"].code)
    ledger.check_in(voter)
    other.check_in(voter)
    replica = Replica(ledger, one.authority_cert, certs.cert_pem(one.device_cert), one.claims.branches)
    device = two.claims.device_id
    stored = replica.store(device, certs.cert_pem(two.device_cert), list(other.events(device)))
    assert getattr(stored, "duplicates", None) == 1, stored
    flow = CheckInFlow(Desk(registry, ledger, one.config.rules), staff, Clock(), duplicates=replica)
    flow.sign_in("w1", "246802")
    assert flow.state.notice is Notice.DUPLICATE_CHECK_IN
    [duplicate] = flow.state.duplicates
    assert duplicate.voter == voter and len(duplicate.check_ins) == 2
    assert {ref.split(":")[0] for ref in duplicate.check_ins} == {one.claims.device_id, device}
    flow.show_duplicates()
    flow.acknowledge_duplicate(0)
    assert (flow.state.screen, flow.state.duplicates) == (Screen.READY, ())
    assert replica.duplicates() == [] and replica.duplicates(include_acknowledged=True)[0].acknowledged
    [seen] = [e for e in ledger.events(one.claims.device_id) if e.kind is Kind.DUPLICATE_SEEN]
    assert seen.voter == voter and seen.ref == ",".join(duplicate.check_ins) and "w1" in seen.reason
