"""What a kiosk stores of its peers' events, tried as a rogue kiosk with its own keys would (issue 12, findings 1-5).

Every device here is real: enrolled by a real authority, with its own Ed25519 key, its
ledger on disk, and its peers' events stored through the replica exactly as branch sync does.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from helpers import World
from kiosk.core import hlc as hybrid
from kiosk.core.branch import Duplicate
from kiosk.net import sync_messages as sm
from kiosk.store.ledger import Event, Kind, Ledger, LedgerCorrupt, event_hash, genesis, verify_chain
from kiosk.store.replica import AnomalyKind, PageRefused, Replica, Stored
from kiosk.state import Installed, load_signing_key
from kiosk.trust import certs, revocation
from kiosk.trust.decisions import sign_undo, undo_reason


@dataclass
class Device:
    installed: Installed
    ledger: Ledger
    replica: Replica

    @property
    def id(self) -> str:
        return self.installed.claims.device_id

    @property
    def key(self) -> ed25519.Ed25519PrivateKey:
        return load_signing_key(self.installed.state)

    @property
    def cert(self) -> bytes:
        return certs.cert_pem(self.installed.device_cert)

    def events(self, device: str | None = None) -> list[Event]:
        return list(self.ledger.events(device or self.id))

    def take(self, other: Device, events: list[Event] | None = None) -> Stored | PageRefused:
        return self.replica.store(other.id, other.cert, events if events is not None else other.events())

    def close(self) -> None:
        self.ledger.close()


def open_device(installed: Installed) -> Device:
    ledger = installed.open_ledger()
    ledger.connection.execute("PRAGMA synchronous=OFF")   # received events: speed over durability in tests
    replica = Replica(ledger, installed.authority_cert, certs.cert_pem(installed.device_cert),
                      installed.claims.branches, roster=installed.roster())
    return Device(installed, ledger, replica)


@pytest.fixture
def trio(world: World) -> Iterator[tuple[Device, Device, Device]]:
    """Kiosks a and b of branch 1001, the branch's console enrolled too, and kiosk c of the same branch."""
    a = world.installed("a")
    b = world.installed("b")
    world.console("rep")
    c = world.installed("c")
    devices = tuple(open_device(Installed.open(i.state)) for i in (a, b, c))
    yield devices  # type: ignore[misc]
    for d in devices:
        d.close()


def voter(n: int) -> bytes:
    return bytes([n]) * 16


def signed_chain(device: Device, election: str, start: list[Event], extra: list[tuple[Kind, bytes, str, str]],
                 hlc_of: int | None = None) -> list[Event]:
    """Events appended after `start` as the device's own key signs them (what a rogue device's own code can do)."""
    chain = list(start)
    prev = chain[-1].hash if chain else genesis(election, device.id)
    seq = chain[-1].seq if chain else 0
    stamp = chain[-1].hlc if chain else hybrid.pack(time.time_ns() // 1_000_000, 0)
    for kind, who, ref, reason in extra:
        seq += 1
        stamp = hlc_of if hlc_of is not None else stamp + 1
        wall = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        digest = event_hash(prev, device.id, seq, stamp, kind.value, who, ref, reason, wall)
        chain.append(Event(device.id, seq, stamp, kind, who, ref, reason, wall, prev, digest, device.key.sign(digest)))
        prev = digest
    return chain


# -- finding 1: who may undo ------------------------------------------------------------------

def test_an_undo_written_by_another_kiosk_changes_no_verdict_and_is_an_anomaly(trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    a.ledger.check_in(voter(1))
    assert isinstance(b.take(a), Stored)
    with b.ledger.transaction():   # b's own code writes an undo of a's check-in and signs it with b's key
        b.ledger.append(Kind.UNDO, voter(1), f"{a.id}:1", "rogue")
    assert isinstance(a.take(b), Stored)           # kept as evidence: b's chain is b's own
    assert a.ledger.live_check_in(voter(1)) is not None          # still already voted on a
    assert b.ledger.live_check_in(voter(1)) is not None          # and on b itself
    [anomaly] = a.replica.anomalies()
    assert anomaly.kind == AnomalyKind.FOREIGN_UNDO and anomaly.device == b.id


def test_the_ledger_refuses_to_undo_another_kiosks_check_in(trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    a.ledger.check_in(voter(1))
    b.take(a)
    refused = b.ledger.undo(a.id, 1, "staff mistake")
    assert getattr(refused, "reason", "") == "only the kiosk that recorded a check-in can undo it"
    assert b.ledger.live_check_in(voter(1)) is not None


def test_an_undo_by_the_kiosk_that_recorded_the_check_in_counts_everywhere(trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    a.ledger.check_in(voter(1))
    a.ledger.undo(a.id, 1, "wrong person")
    b.take(a)
    assert b.ledger.live_check_in(voter(1)) is None
    assert b.replica.anomalies() == []


def test_an_undo_carrying_the_representatives_authorization_counts(world: World,
                                                                   trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    rep = Installed.open(world.root / "rep")
    rep_key = load_signing_key(rep.state)
    a.ledger.check_in(voter(1))
    b.take(a)
    target = f"{a.id}:1"
    signature = sign_undo(world.authority.config.id, "E-ABCDEF-0001", b.id, rep.claims.device_id, target, rep_key)
    with b.ledger.transaction():
        b.ledger.append(Kind.UNDO, voter(1), target, undo_reason("E-ABCDEF-0001", rep.claims.device_id, signature))
    a.take(b)
    assert a.ledger.live_check_in(voter(1)) is None and a.replica.anomalies() == []
    # The same authorization does not stretch to another check-in, nor does b's own key stand in for the console's.
    a.ledger.check_in(voter(2))
    b.take(a)
    forged = sign_undo(world.authority.config.id, "E-ABCDEF-0002", b.id, b.id, f"{a.id}:3", b.key)
    with b.ledger.transaction():
        b.ledger.append(Kind.UNDO, voter(2), f"{a.id}:3", undo_reason("E-ABCDEF-0001", rep.claims.device_id,
                                                                       signature))
        b.ledger.append(Kind.UNDO, voter(2), f"{a.id}:3", undo_reason("E-ABCDEF-0002", b.id, forged))
    a.take(b)
    assert a.ledger.live_check_in(voter(2)) is not None
    assert len([x for x in a.replica.anomalies() if x.kind == AnomalyKind.FOREIGN_UNDO]) == 2


# -- finding 2: stored = verified --------------------------------------------------------------

def test_a_page_with_junk_signatures_stores_only_what_was_verified(trio: tuple[Device, Device, Device]) -> None:
    a, b, c = trio
    for n in range(100):
        a.ledger.check_in(voter(n % 250 + 1) + n.to_bytes(2, "big"))
    page = [replace(e, sig=bytes(64)) for e in a.events()[:-1]] + [a.events()[-1]]   # 99 zero signatures
    assert b.take(a, page) == Stored(100, 0)
    held = b.events(a.id)
    assert [e.sig for e in held[:-1]] == [b""] * 99        # nothing unverified is kept
    public = a.key.public_key()
    verify_chain(iter(held), a.installed.config.id, a.id, public)   # collection's rule accepts the copy
    # and the copy relays: c takes it from b and judges it by the same rule
    assert c.replica.store(a.id, a.cert, b.replica.page(a.id, 0)) == Stored(100, 0)
    verify_chain(iter(c.events(a.id)), a.installed.config.id, a.id, public)


def test_a_page_whose_newest_signature_is_junk_stores_nothing(trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    a.ledger.check_in(voter(1))
    page = [replace(e, sig=bytes(64)) for e in a.events()]
    assert isinstance(b.take(a, page), PageRefused)
    assert b.events(a.id) == []


def test_collection_refuses_a_chain_whose_newest_entry_is_unsigned(trio: tuple[Device, Device, Device]) -> None:
    a, _, _ = trio
    a.ledger.check_in(voter(1))
    a.ledger.check_in(voter(2))
    events = a.events()
    with pytest.raises(LedgerCorrupt, match="carries no signature"):
        verify_chain(iter([events[0], replace(events[1], sig=b"")]), a.installed.config.id, a.id,
                     a.key.public_key())


# -- finding 3: bounded clocks -----------------------------------------------------------------

def test_a_stamp_far_ahead_is_refused_and_never_becomes_the_receivers_clock(trio: tuple[Device, Device, Device]) -> None:
    a, b, c = trio
    election = a.installed.config.id
    poisoned = signed_chain(a, election, [], [(Kind.CHECK_IN, voter(1), "", "")], hlc_of=(1 << 62) - 1)
    refused = b.take(a, poisoned)
    assert isinstance(refused, PageRefused) and refused.reason.startswith("clock:")
    minutes = signed_chain(a, election, [], [(Kind.CHECK_IN, voter(1), "", "")],
                           hlc_of=hybrid.pack(time.time_ns() // 1_000_000 + 10 * 60_000, 0))
    assert isinstance(b.take(a, minutes), PageRefused)            # ten minutes ahead is too far too
    past = signed_chain(a, election, [], [(Kind.CHECK_IN, voter(1), "", "")], hlc_of=hybrid.pack(1000, 0))
    refused = b.take(a, past)
    assert isinstance(refused, PageRefused) and "window" in refused.reason
    assert b.events(a.id) == []
    b.ledger.check_in(voter(2))
    [own] = b.events()
    assert abs(hybrid.unpack(own.hlc)[0] - time.time_ns() // 1_000_000) < 60_000
    assert c.take(b) == Stored(1, 0)                               # b's events still reach the others


def test_a_stamp_a_little_ahead_is_accepted(trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    soon = signed_chain(a, a.installed.config.id, [], [(Kind.CHECK_IN, voter(1), "", "")],
                        hlc_of=hybrid.pack(time.time_ns() // 1_000_000 + 60_000, 0))
    assert b.take(a, soon) == Stored(1, 0)


# -- finding 4: equivocation -------------------------------------------------------------------

def _rewritten(a: Device, b: Device, at: int) -> list[Event]:
    """a checks in five voters and b stores them; then a's chain with entry `at` replaced by another
    voter's, and the rest re-chained and re-signed by a (a device rewriting its own history)."""
    for n in range(1, 6):
        a.ledger.check_in(voter(n))
    b.take(a)
    events = a.events()
    kept = events[:at - 1]
    again = [(Kind.CHECK_IN, voter(99), "", "")] + [(e.kind, e.voter, e.ref, e.reason) for e in events[at:]]
    return signed_chain(a, a.installed.config.id, kept, again)


def test_a_device_that_rewrites_an_entry_a_peer_holds_is_caught_with_both_signed_entries(
        trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    rewritten = _rewritten(a, b, 3)
    refused = b.take(a, rewritten[2:])
    assert isinstance(refused, PageRefused) and "equivocation" in refused.reason
    [anomaly] = b.replica.anomalies()
    assert (anomaly.kind, anomaly.device, anomaly.seq) == (AnomalyKind.EQUIVOCATION, a.id, 3)
    evidence = json.loads(b.ledger.connection.execute("SELECT evidence FROM anomalies").fetchone()[0])
    ours, theirs = evidence["ours"], evidence["theirs"]
    assert ours[0][1] == theirs[0][1] == 3 and ours[0][9] != theirs[0][9]     # two different entries 3
    public = a.key.public_key()
    public.verify(bytes.fromhex(ours[-1][10]), bytes.fromhex(ours[-1][9]))    # both runs end on a's signature
    public.verify(bytes.fromhex(theirs[-1][10]), bytes.fromhex(theirs[-1][9]))
    assert [e.hash for e in b.events(a.id)] == [e.hash for e in a.events()]   # nothing of the rewrite stored


def test_a_rewritten_history_continued_past_the_peers_head_is_an_equivocation_too(
        trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    rewritten = _rewritten(a, b, 3)
    longer = signed_chain(a, a.installed.config.id, rewritten, [(Kind.CHECK_IN, voter(50), "", "")])
    refused = b.take(a, longer[5:])         # only entry 6', whose `prev` names the rewritten entry 5'
    assert isinstance(refused, PageRefused) and "equivocation" in refused.reason
    assert [x.seq for x in b.replica.anomalies()] == [5]


# -- finding 5: revocation ---------------------------------------------------------------------

def test_a_revoked_kiosks_entries_from_its_revocation_time_are_ignored_and_reported(
        world: World, trio: tuple[Device, Device, Device]) -> None:
    a, b, _ = trio
    a.ledger.check_in(voter(1))
    a.ledger.check_in(voter(2))
    time.sleep(0.01)
    stolen_at = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    a.ledger.check_in(voter(3))
    a.ledger.check_in(voter(4))
    signed = world.authority.revoke(a.id, stolen_at)
    (b.installed.state / revocation.FILE).write_bytes(signed)
    b.replica.use_roster(b.installed.roster())
    assert b.take(a) == Stored(2, 0)
    assert [e.seq for e in b.events(a.id)] == [1, 2]
    assert b.ledger.live_check_in(voter(3)) is None
    [anomaly] = b.replica.anomalies()
    assert (anomaly.kind, anomaly.seq) == (AnomalyKind.REVOKED, 3)
    verify_chain(iter(b.events(a.id)), a.installed.config.id, a.id, a.key.public_key())


def test_events_of_a_device_not_in_the_roster_are_refused(world: World, tmp_path: Path) -> None:
    a = world.installed("a")
    b = world.installed("b")
    (a.state / "roster" / f"{b.claims.device_id}.pem").unlink()   # b is not in a's roster
    (Path(a.package_dir) / "roster" / f"{b.claims.device_id}.pem").unlink(missing_ok=True)
    da, db = open_device(Installed.open(a.state)), open_device(Installed.open(b.state))
    try:
        db.ledger.check_in(voter(1))
        refused = da.take(db)
        assert isinstance(refused, PageRefused) and "roster" in refused.reason
    finally:
        da.close()
        db.close()


def test_a_kiosk_whose_clock_runs_behind_takes_the_consoles_time_as_its_best(
        trio: tuple[Device, Device, Device], monkeypatch: pytest.MonkeyPatch) -> None:
    """A Pi that booted an hour behind must not refuse its peers: the console's beacon lifts its best time."""
    import types

    import kiosk.net.courier as courier_module
    from kiosk.net import messages as m
    from kiosk.net.courier import Courier
    a, b, _ = trio
    hour_ns = 3600 * 10**9
    behind = types.SimpleNamespace(time_ns=lambda: time.time_ns() - hour_ns, monotonic=time.monotonic,
                                   sleep=time.sleep)
    monkeypatch.setattr(courier_module, "time", behind)      # this kiosk's wall clock is an hour behind
    courier = Courier(b.installed)
    replica = Replica(b.ledger, b.installed.authority_cert, b.cert, b.installed.claims.branches,
                      roster=b.installed.roster(), now_ms=courier.best_time_ms)
    page = signed_chain(a, a.installed.config.id, [], [(Kind.CHECK_IN, voter(1), "", "")],
                        hlc_of=hybrid.pack(time.time_ns() // 1_000_000, 0))
    refused = replica.store(a.id, a.cert, page)
    assert isinstance(refused, PageRefused) and refused.reason.startswith("clock:")   # its own clock alone
    courier._beacon(m.Beacon(time.time_ns() // 1_000_000))              # the console says what time it is
    assert replica.store(a.id, a.cert, page) == Stored(1, 0)
    courier._beacon(m.Beacon(time.time_ns() // 1_000_000 - 5 * 3600 * 1000))   # a console behind never lowers it
    assert courier.best_time_ms() >= behind.time_ns() // 1_000_000 - 1000


def test_acknowledging_a_voter_checked_in_on_many_kiosks_signs_an_event_the_peers_accept(
        trio: tuple[Device, Device, Device]) -> None:
    """Forty check-ins of one voter make a ref longer than the wire's 400 characters: it is cut, never refused."""
    a, b, _ = trio
    many = tuple(f"kiosk-1001-{n:02d}-spare-unit:{n + 1}" for n in range(40))
    assert len(",".join(many)) > 400
    a.replica.acknowledge(Duplicate(voter(9), many, "2026-05-22T08:00:00+00:00", ""), "head")
    seen = a.events()[-1]
    assert seen.kind is Kind.DUPLICATE_SEEN
    assert len(seen.ref) <= 400 and seen.ref.startswith(many[0] + ",") and seen.ref.endswith(" more")
    shown = seen.ref.split(",")
    assert shown[-1] == f"+{40 - (len(shown) - 1)} more"
    assert isinstance(b.take(a), Stored)


# -- who did it: the staff account on every entry (issue 14) ---------------------------------------------------------

def test_the_account_travels_with_the_entry_and_cannot_be_changed_on_the_way(trio: tuple[Device, Device, Device]
                                                                            ) -> None:
    a, b, c = trio
    a.ledger.check_in(voter(1), account="w1")
    a.ledger.undo(a.id, 1, "recorded for the wrong person", account="head")
    a.ledger.check_in(voter(2))   # a technician's command: no one signed in
    assert [e.account for e in a.events()] == ["w1", "head", ""]
    forged = [replace(e, account="head") if e.seq == 1 else e for e in a.events()]
    assert isinstance(b.take(a, forged), PageRefused)   # the account is in the signed hash
    wire = sm.decode(sm.encode(sm.Page(a.id, a.cert, tuple(a.events()))))
    assert isinstance(wire, sm.Page)
    assert b.take(a, list(wire.events)) == Stored(3, 0)
    assert [e.account for e in b.events(a.id)] == ["w1", "head", ""]
    verify_chain(iter(b.events(a.id)), a.installed.config.id, a.id, a.key.public_key())
    assert c.replica.store(a.id, a.cert, b.replica.page(a.id, 0)) == Stored(3, 0)
    assert [e.account for e in c.events(a.id)] == ["w1", "head", ""]


def test_an_account_the_wire_cannot_carry_is_refused_before_anything_is_signed(trio: tuple[Device, Device, Device]
                                                                              ) -> None:
    a, _, _ = trio
    for bad in ("x" * 33, "line\nbreak", " padded"):
        with pytest.raises(ValueError):
            a.ledger.check_in(voter(9), account=bad)
    assert a.events() == []
