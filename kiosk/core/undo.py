"""Who may undo a check-in: the one rule the kiosk, branch sync, collection and the province all apply.

An undo counts only when the device that recorded the check-in made it (the
branch head signed in there), or when it carries the representative's signed
authorization for exactly that check-in (a disputed "already voted" that the
representative approved). Any other undo changes no verdict; it is kept as
evidence and shown as an anomaly. Verifying an authorization's signature is
the caller's job (kiosk.trust.decisions); this module only rules.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kiosk.core.text_limits import MAX_UNDO_REASON, check_text


@dataclass(frozen=True, slots=True)
class UndoSeen:
    """One undo event as a ledger holds it."""

    device: str          # the device that wrote the undo
    seq: int
    voter: bytes         # the keyed hash the undo names
    target: str          # "device:seq" of the check-in it cancels
    authorized: bool     # it carries a representative's authorization for `target` that verified


@dataclass(frozen=True, slots=True)
class UndoRuling:
    """Which check-ins are undone, and the undos that count for nothing (with why)."""

    undone: frozenset[str]
    anomalies: tuple[tuple[UndoSeen, str], ...]


FOREIGN = "an undo of another device's check-in without the representative's authorization"
WRONG_VOTER = "an undo that names a check-in of another voter"


def check_undo_reason(reason: str) -> str:
    """The reason as the undo event keeps it (stripped); TextRefused if branch sync's wire would refuse it.

    The reason travels whole in the undo event to every kiosk of the branch: one that is too long or holds a
    line break would make the peers refuse every later page of this kiosk's ledger.
    """
    return check_text(reason.strip(), "the reason", MAX_UNDO_REASON, required=True)


def target_device(target: str) -> str:
    """The device part of a "device:seq" reference."""
    return target.rpartition(":")[0]


def rule_undos(undos: Iterable[UndoSeen], check_ins: Mapping[str, bytes]) -> UndoRuling:
    """Apply the rule: `check_ins` maps "device:seq" to its voter for every check-in held.

    An undo naming a check-in not held (yet) neither counts nor is an anomaly: its
    check-in may still arrive, and the ruling is made again then.
    """
    undone: set[str] = set()
    anomalies: list[tuple[UndoSeen, str]] = []
    for undo in undos:
        if undo.device != target_device(undo.target) and not undo.authorized:
            anomalies.append((undo, FOREIGN))
            continue
        voter = check_ins.get(undo.target)
        if voter is None:
            continue
        if voter != undo.voter:
            anomalies.append((undo, WRONG_VOTER))
            continue
        undone.add(undo.target)
    return UndoRuling(frozenset(undone), tuple(anomalies))
