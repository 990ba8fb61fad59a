"""Several kiosks in one branch, as the core sees it: double check-ins and the state of branch sync."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Duplicate:
    """One voter with live check-ins on more than one kiosk (made while the branch LAN was split)."""

    voter: bytes                    # the registry's keyed hash, never the code
    check_ins: tuple[str, ...]      # "device:seq", earliest first
    found: str                      # when this kiosk noticed, UTC ISO
    acknowledged: str               # "" until staff acknowledge it on this kiosk


@dataclass(frozen=True, slots=True)
class PeerSeen:
    """Another kiosk of the branch, as branch sync sees it."""

    device: str
    online: bool
    last_contact: str               # UTC ISO of the last message from it; "" if never
    behind: int                     # events it holds that this kiosk does not have yet


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows about branch sync."""

    peers: tuple[PeerSeen, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()   # (device or service name, reason: election, branch, version, ...)
    anomalies: int = 0      # records this kiosk holds that the rules refuse to count (kiosk.store.replica)

    @property
    def online(self) -> int:
        """Kiosks linked now."""
        return sum(1 for p in self.peers if p.online)

    @property
    def behind(self) -> int:
        """Events the other kiosks hold that this one has not received yet."""
        return sum(p.behind for p in self.peers)
