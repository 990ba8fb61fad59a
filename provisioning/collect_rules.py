"""The rules collection applies to the devices' chains: the same ones live sync applies, never a softer copy.

Every copy of a device's chain (its own bundle, and what other kiosks relayed)
is judged by kiosk.store.ledger.verify_chain and compared with every other
copy entry by entry: a difference between two copies that both verify is an
equivocation, with both versions named. Undos count by kiosk.core.undo's rule;
a revoked device's entries from its revocation time are left out and counted.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core import hlc as hybrid
from kiosk.core.undo import UndoSeen, rule_undos
from kiosk.store.ledger import Event, Kind, LedgerCorrupt, check_account, event_hash, verify_chain
from kiosk.trust.decisions import undo_authorized
from kiosk.trust.revocation import RevocationList


@dataclass
class Chain:
    """One device's events as one bundle carries them."""

    device: str
    branches: tuple[str, ...]
    events: list[Event]
    source: str
    key: ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class Equivocation:
    """A device signed two different entries with one sequence number: where each was found, and their hashes."""

    device: str
    seq: int
    first: str          # where one version was found (a bundle file, whose copy, or a kiosk's kept proof)
    first_hash: str
    second: str
    second_hash: str


@dataclass
class Merged:
    """Each device's chain to count, the equivocations found on the way, and notes for the report."""

    chains: list[Chain]
    equivocations: list[Equivocation]
    notes: list[str]


def merge(own: dict[str, Chain], relayed: Sequence[Chain], election: str) -> Merged:
    """Each kiosk's chain to count: its own bundle's, or a longer copy that agrees with it on every shared entry."""
    merged = Merged([], [], [])
    best = dict(own)
    copies: dict[str, list[Chain]] = {}
    for copy in sorted(relayed, key=lambda c: -len(c.events)):
        try:
            verify_chain(iter(copy.events), election, copy.device, copy.key)
        except LedgerCorrupt as exc:
            merged.notes.append(f"{copy.source}: its copy of {copy.device}'s events is not usable ({exc})")
            continue
        copies.setdefault(copy.device, []).append(copy)
    for device, found in copies.items():
        versions = ([best[device]] if device in best else []) + found
        disagree = False
        for i, a in enumerate(versions):
            for b in versions[i + 1:]:
                split = _first_difference(a.events, b.events)
                if split is not None:
                    disagree = True
                    merged.equivocations.append(Equivocation(
                        device, split, a.source, a.events[split - 1].hash.hex(), b.source,
                        b.events[split - 1].hash.hex()))
        reference = best.get(device) or found[0]
        longest = max(found, key=lambda c: len(c.events))
        if device in best and disagree:
            merged.notes.append(f"copies of {device}'s events disagree with its own bundle; its own is counted")
        elif len(longest.events) > len(best[device].events if device in best else []):
            have = len(best[device].events) if device in best else 0
            if _first_difference(reference.events, longest.events) is None:
                where = "after its own export" if device in best else "whose own bundle is missing"
                merged.notes.append(f"{len(longest.events) - have} events of {device} ({where}) were taken "
                                    f"from {longest.source}")
                best[device] = longest
    merged.chains = list(best.values())
    return merged


def _first_difference(a: Sequence[Event], b: Sequence[Event]) -> int | None:
    """The first sequence number at which two chains of one device hold different entries, or None."""
    for x, y in zip(a, b):
        if x.hash != y.hash:
            return x.seq
    return None


def reported_equivocation(evidence: Any, device: str, key: ed25519.Ed25519PublicKey, reporter: str,
                          seq: int) -> Equivocation | None:
    """A kiosk's kept proof, if both runs are the device's own signed chain and differ at `seq`; else None."""
    if not isinstance(evidence, dict):
        return None
    held, offered = (_signed_run(evidence.get(side), device, key) for side in ("ours", "theirs"))
    if held is None or offered is None:
        return None
    ours, theirs = {e.seq: e for e in held}, {e.seq: e for e in offered}
    mine = ours.get(seq)
    other = theirs.get(seq) or theirs.get(seq + 1)
    if mine is None or other is None:
        return None
    other_hash = other.hash if other.seq == seq else other.prev
    if other_hash == mine.hash:
        return None
    return Equivocation(device, seq, f"{reporter} (held)", mine.hash.hex(), f"{reporter} (offered)",
                        other_hash.hex())


def _signed_run(rows: Any, device: str, key: ed25519.Ed25519PublicKey) -> list[Event] | None:
    """Consecutive entries whose hashes recompute and link, ending on the device's signature."""
    if not isinstance(rows, list) or not rows or len(rows) > 1000:
        return None
    try:
        events = [_event(r) for r in rows]
    except (ValueError, TypeError):
        return None
    for before, after in zip(events, events[1:]):
        if after.seq != before.seq + 1 or after.prev != before.hash:
            return None
    for e in events:
        if e.device != device or event_hash(e.prev, e.device, e.seq, e.hlc, e.kind.value, e.voter, e.ref,
                                            e.reason, e.wall, e.account) != e.hash:
            return None
    try:
        key.verify(events[-1].sig, events[-1].hash)
    except InvalidSignature:
        return None
    return events


def _event(r: Any) -> Event:
    """One event from its bundle row; ValueError or TypeError for anything else."""
    if not isinstance(r, list) or len(r) not in (11, 12):   # 12: with the account (bundles of this version)
        raise ValueError("row")
    device, seq, hlc, kind, voter, ref, reason, wall, prev, digest, sig = r[:11]
    account = r[11] if len(r) == 12 else ""
    if not (isinstance(seq, int) and isinstance(hlc, int) and all(
            isinstance(t, str) for t in (device, kind, voter, ref, reason, wall, prev, digest, sig, account))):
        raise ValueError("types")
    return Event(device, seq, hlc, Kind(kind), bytes.fromhex(voter), ref, reason, wall, bytes.fromhex(prev),
                 bytes.fromhex(digest), bytes.fromhex(sig), check_account(account))


def events_from_rows(rows: object) -> list[Event]:
    """The events a bundle carries; ValueError if any row is malformed."""
    if not isinstance(rows, list):
        raise ValueError("events")
    try:
        return [_event(r) for r in rows]
    except TypeError as exc:
        raise ValueError("events") from exc


def ruled_undos(chains: Sequence[Chain], election: str,
                rep_key: Callable[[str, tuple[str, ...]], ed25519.Ed25519PublicKey | None]
                ) -> tuple[frozenset[str], list[tuple[str, int, str, str]]]:
    """What is undone by the rule, and the undos that count for nothing: (device, seq, target, why)."""
    check_ins = {f"{e.device}:{e.seq}": e.voter for c in chains for e in c.events if e.kind is Kind.CHECK_IN}
    undos = []
    for chain in chains:
        def key_of(rep: str, branches: tuple[str, ...] = chain.branches) -> ed25519.Ed25519PublicKey | None:
            return rep_key(rep, branches)
        for e in chain.events:
            if e.kind is Kind.UNDO:
                authorized = undo_authorized(election, e.device, e.ref, e.reason, key_of)
                undos.append(UndoSeen(e.device, e.seq, e.voter, e.ref, authorized))
    ruling = rule_undos(undos, check_ins)
    return ruling.undone, [(u.device, u.seq, u.target, why) for u, why in ruling.anomalies]


def without_revoked(chains: Sequence[Chain], revocations: RevocationList) -> tuple[list[Chain], list[tuple[str, int]]]:
    """The chains with each revoked device's entries from its revocation time left out, and how many were."""
    kept, revoked = [], []
    for chain in chains:
        since = revocations.revoked_from_ms(chain.device)
        if since is None:
            kept.append(chain)
            continue
        before = [e for e in chain.events if hybrid.unpack(e.hlc)[0] < since]
        revoked.append((chain.device, len(chain.events) - len(before)))
        kept.append(replace(chain, events=before))
    return kept, revoked
