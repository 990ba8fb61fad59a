"""Pages from an authenticated but malicious peer, 10,000 of them: nothing crashes, nothing unverified is kept.

The receiver is a real kiosk. The honest kiosk `a` made a real chain of check-ins and
undos; the malicious kiosk `m` is a real kiosk of the same branch with its own key, so it
can sign whatever it likes as its own, and it can take `a`'s pages apart, reorder, replay,
re-stamp and re-sign them. After each page: either it was refused and nothing the receiver
holds or shows changed, or what was stored verifies by collection's rule and `a`'s entries
are exactly `a`'s. No undo of `m`'s ever cancels `a`'s check-in.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import make_world
from kiosk.core import hlc as hybrid
from kiosk.store.ledger import Event, Kind, event_hash, genesis, verify_chain
from kiosk.store.replica import PageRefused, Replica, Stored
from kiosk.state import Installed, load_signing_key
from kiosk.trust import certs

EXAMPLES = int(__import__("os").environ.get("FUZZ_PAGES", "10000"))  # pages in all
PAGES_PER_EXAMPLE = 5
VOTERS = [bytes([n]) * 16 for n in range(1, 25)]


class Scene:
    """The receiver, the honest kiosk's real chain, and the malicious kiosk's key."""

    def __init__(self, root: Path) -> None:
        world = make_world(root)
        honest, receiver, malicious = (world.installed(n) for n in ("honest", "receiver", "malicious"))
        self.election = world.authority.config.id
        self.receiver = Installed.open(receiver.state)
        self.ledger = self.receiver.open_ledger()
        self.ledger.connection.execute("PRAGMA synchronous=OFF")
        self.replica = Replica(self.ledger, self.receiver.authority_cert, certs.cert_pem(self.receiver.device_cert),
                               self.receiver.claims.branches, roster=self.receiver.roster())
        self.a = honest.claims.device_id
        self.a_cert = certs.cert_pem(honest.device_cert)
        self.m = malicious.claims.device_id
        self.m_cert = certs.cert_pem(malicious.device_cert)
        self.m_key = load_signing_key(malicious.state)
        self.m_head: Event | None = None
        # Knowing m's certificate is a write of its own (the devices table), not an event: make it up front.
        assert not isinstance(self.replica._key(self.m, self.m_cert), PageRefused)
        own = honest.open_ledger()
        try:
            for n, v in enumerate(VOTERS):
                made = own.check_in(v)
                if n % 7 == 3:
                    own.undo(self.a, made.seq, "wrong person")   # type: ignore[union-attr]
            self.honest = list(own.events(self.a))
        finally:
            own.close()
        self.a_voters = {e.voter for e in self.honest if e.kind is Kind.CHECK_IN}

    def held(self) -> tuple[int, int]:
        """Rows this connection has ever inserted, changed or deleted, and the events held now.

        The replica writes only through the ledger's connection, so any change at all moves the first.
        """
        count = self.ledger.connection.execute("SELECT count(*) FROM events").fetchone()[0]
        return self.ledger.connection.total_changes, int(count)

    def verdicts(self, voters: list[bytes] = VOTERS) -> list[bool]:
        return [self.ledger.live_check_in(v) is not None for v in voters]

    def live_honest(self) -> set[bytes]:
        """Voters a's chain, as the receiver holds it, leaves checked in by a's own rule."""
        held = list(self.ledger.events(self.a))
        undone = {e.ref for e in held if e.kind is Kind.UNDO}
        return {e.voter for e in held if e.kind is Kind.CHECK_IN and f"{e.device}:{e.seq}" not in undone}

    def m_signed(self, entries: list[tuple[Kind, bytes, str, str, int]]) -> list[Event]:
        """Entries continuing m's chain as m's own key signs them (stamps as m chooses)."""
        head = self.m_head
        prev, seq = (head.hash, head.seq) if head else (genesis(self.election, self.m), 0)
        out = []
        for kind, who, ref, reason, stamp in entries:
            seq += 1
            wall = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
            digest = event_hash(prev, self.m, seq, stamp, kind.value, who, ref, reason, wall)
            out.append(Event(self.m, seq, stamp, kind, who, ref, reason, wall, prev, digest, self.m_key.sign(digest)))
            prev = digest
        return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return Scene(tmp_path_factory.mktemp("fuzz"))


_NOW = time.time_ns() // 1_000_000
_ACTIONS = ("reverse", "swap", "replay", "drop", "stamp", "sig", "strip", "field", "rehash", "foreign", "none")
_KINDS = list(Kind)
# One page as flat integers (cheap for Hypothesis to draw and to shrink): who sends it, and up to three edits.
_EDIT = st.tuples(st.integers(0, len(_ACTIONS) - 1), st.integers(0, 1 << 16), st.integers(0, 1 << 16),
                  st.integers(0, 1 << 62))
PAGE_PLAN = st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(1, 150),
                      st.lists(_EDIT, max_size=3), st.integers(0, 3))


def _stamp(choice: int, value: int) -> int:
    """Any stamp at all, one within ten minutes of now either way, or now."""
    if choice % 3 == 0:
        return value
    if choice % 3 == 1:
        return hybrid.pack(_NOW + value % 1_200_000 - 600_000, 0)
    return hybrid.pack(_NOW, 0)


def honest_page(scene: Scene, plan: tuple[int, int, int, list[tuple[int, int, int, int]], int]) -> tuple[str, list[Event]]:
    """a's real events, taken apart: sliced, reordered, replayed, re-stamped, stripped or given others' signatures."""
    who, start, length, edits, _ = plan
    events = scene.honest
    start %= len(events)
    page = list(events[start:start + length])
    for action, i, j, value in edits:
        i, j = i % len(page), j % len(page)
        match _ACTIONS[action]:
            case "reverse":
                page.reverse()
            case "swap":
                page[i], page[j] = page[j], page[i]
            case "replay":
                page.insert(i, page[j])
            case "drop" if len(page) > 1:
                page.pop(i)
            case "stamp":
                page[i] = replace(page[i], hlc=_stamp(j, value))
            case "sig":
                page[i] = replace(page[i], sig=value.to_bytes(8, "big") * 8 if j % 2 else events[0].sig)
            case "strip":
                page[i] = replace(page[i], sig=b"")
            case "field":
                page[i] = replace(page[i], voter=VOTERS[value % len(VOTERS)], kind=_KINDS[j % len(_KINDS)])
            case "rehash":   # a consistent-looking hash over changed fields; the signature cannot follow
                e = replace(page[i], ref=["", f"{scene.m}:1", f"{scene.a}:2"][j % 3])
                page[i] = replace(e, hash=event_hash(e.prev, e.device, e.seq, e.hlc, e.kind.value, e.voter,
                                                     e.ref, e.reason, e.wall))
            case "foreign":
                page[i] = replace(page[i], device=scene.m)
    return [scene.a, scene.a, scene.m, "0123456789abcdef"][who], page


def malicious_page(scene: Scene, plan: tuple[int, int, int, list[tuple[int, int, int, int]], int]) -> tuple[str, list[Event]]:
    """m's own signed entries: undos of a's check-ins, odd kinds and refs, any stamps."""
    _, _, _, edits, extra = plan
    stamp = scene.m_head.hlc if scene.m_head else hybrid.pack(_NOW - 1000, 0)
    entries = []
    for action, i, j, value in edits or [(0, 0, 0, 0)]:
        stamp = stamp + 1 if (action + extra) % 2 == 0 else _stamp(j, value)
        targets = [f"{scene.a}:{q}" for q in range(1, 12)] + ["", "x:y", f"{scene.m}:1"]
        entries.append((_KINDS[action % len(_KINDS)], VOTERS[i % len(VOTERS)], targets[j % len(targets)],
                        ["", "rogue"][value % 2], stamp))
    return scene.m, scene.m_signed(entries)


def test_ten_thousand_hostile_pages_change_nothing_unless_valid(scene: Scene) -> None:
    # The receiver first takes a's real chain, in pages, as sync would bring it.
    for start in range(0, len(scene.honest), 10):
        assert isinstance(scene.replica.store(scene.a, scene.a_cert, scene.honest[start:start + 10]), Stored)
    honest_live = scene.live_honest()
    stored = refused = 0

    @settings(max_examples=EXAMPLES // PAGES_PER_EXAMPLE, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def some_pages(data: st.DataObject) -> None:
        nonlocal stored, refused
        sample = [VOTERS[i] for i in data.draw(st.lists(st.integers(0, len(VOTERS) - 1), min_size=4, max_size=4))]
        verdicts, changed = scene.verdicts(sample), False
        for _ in range(PAGES_PER_EXAMPLE):
            plan = data.draw(PAGE_PLAN)
            device, page = malicious_page(scene, plan) if plan[0] == 3 else honest_page(scene, plan)
            before = scene.held()
            cert = scene.m_cert if device == scene.m else scene.a_cert
            result = scene.replica.store(device, cert, page)
            assert isinstance(result, Stored | PageRefused)
            if isinstance(result, PageRefused) or result.new == 0:
                refused += 1
                assert scene.held() == before
                continue
            stored += 1
            changed = True
            assert device == scene.m                  # a's chain was whole already: nothing of a's is new
            held = list(scene.ledger.events(scene.m))
            assert held[-1].sig and len(held) - result.new == (scene.m_head.seq if scene.m_head else 0)
            scene.m_key.public_key().verify(held[-1].sig, held[-1].hash)   # the new head is m's own signature
            scene.m_head = held[-1]
            assert [e.hash for e in scene.ledger.events(scene.a)] == [e.hash for e in scene.honest]  # a's, untouched
        if not changed:
            assert scene.verdicts(sample) == verdicts   # nothing stored: nobody's verdict moved
        for v in set(sample) & honest_live:            # m's undos never cancel a's check-ins
            assert scene.ledger.live_check_in(v) is not None

    some_pages()
    assert all(scene.ledger.live_check_in(v) is not None for v in honest_live)
    # What was stored of m, whole, by collection's rule (every hash, every signature held, the newest signed).
    verify_chain(scene.ledger.events(scene.m), scene.election, scene.m, scene.m_key.public_key())
    assert stored + refused >= EXAMPLES
    assert stored > EXAMPLES // 200 and refused > EXAMPLES // 2, (stored, refused)
