"""`kiosk-provision update`: what a technician brings on a USB stick to an installed device, without a rebuild.

A revocation list (kept only if its number is higher than the one the device
holds) and device certificates of the same authority (devices enrolled after
the package was built). Every file is checked before any is kept: one refused
file refuses the update, and nothing changes. A running app or console applies
what is kept within seconds (kiosk.trust.live).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.state import Installed
from kiosk.trust import revocation
from kiosk.trust.live import (MAX_FILE, Kept, MemberAdded, MemberKnown, NotNewer, Refused, add_member,
                              adopt_revocations, check_member, check_revocations)

_PEM = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """One line per file, and whether the update was refused (then nothing changed)."""

    lines: list[str]
    refused: bool


def update(installed: Installed, files: list[Path]) -> UpdateResult:
    """Check every file, then keep each: a refusal anywhere keeps nothing."""
    read: list[tuple[Path, bytes]] = []
    problems: list[str] = []
    for path in files:
        data = _read(path)
        problem = data if isinstance(data, str) else _problem(installed, data)
        if problem is not None:
            problems.append(f"{path.name}: refused: {problem}")
        elif isinstance(data, bytes):
            read.append((path, data))
    if problems:
        return UpdateResult([*problems, "nothing was changed"], refused=True)
    return UpdateResult([f"{path.name}: {_keep(installed, data)}" for path, data in read], refused=False)


def _read(path: Path) -> bytes | str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return "too large for a certificate or a revocation list" if len(data) > MAX_FILE else data


def _problem(installed: Installed, data: bytes) -> str | None:
    if data.lstrip().startswith(_PEM):
        offer = check_member(data, installed.authority_cert, installed.roster())
        return offer.reason if isinstance(offer, Refused) else None
    found = check_revocations(data, installed.authority_cert, installed.config.id)
    return found.reason if isinstance(found, Refused) else None


def _keep(installed: Installed, data: bytes) -> str:
    if data.lstrip().startswith(_PEM):
        member = add_member(installed.state, installed.authority_cert, installed.roster(), data)
        match member:
            case MemberAdded():
                branches = ", ".join(member.branches)
                verb = "replaces the certificate held for" if member.replaced else "added to the roster:"
                return f"{verb} device {member.member_id} ({member.role.value}, branch {branches})"
            case MemberKnown():
                return f"device {member.member_id} is already in the roster; nothing changed"
            case Refused():
                return f"refused: {member.reason}"
    kept = adopt_revocations(installed.state, installed.authority_cert, installed.config.id, data)
    match kept:
        case Kept():
            return f"revocation list {kept.revocations.number} kept: {_revoked(kept.revocations)}"
        case NotNewer():
            return (f"revocation list {kept.offered} is not newer than the one this device holds "
                    f"({kept.held}); nothing changed")
        case Refused():
            return f"refused: {kept.reason}"


def _revoked(revocations: revocation.RevocationList) -> str:
    if not revocations.revoked:
        return "no device revoked"
    return "revoked " + ", ".join(f"{device} from {when}" for device, when in sorted(revocations.revoked.items()))
