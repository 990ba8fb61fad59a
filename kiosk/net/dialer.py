"""Dialling a device the roster names, at the addresses adverts gave: each in turn, the one that worked first.

An advert is unauthenticated, so an address may lead anywhere; the handshake's
PeerPolicy(device=...) checks that the far end is the device we meant, with the
certificate the roster holds. A false address costs one failed dial, and the
address that worked is tried first from then on, even after a goodbye (which
anyone on the LAN can send in a device's name).
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kiosk.net.channel import Channel, ChannelError, PeerPolicy, PeerRefused, TlsIdentity, connect
from kiosk.net.discovery import Address, Endpoint

DIAL_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Dialled:
    """A verified channel to the device, and the address it was reached at."""

    channel: Channel
    address: Address


@dataclass(frozen=True, slots=True)
class NotDialled:
    """No address gave the device: `refused` when one answered but failed the checks (or refused us)."""

    refused: bool
    reason: str


class AddressBook:
    """Per device id: the addresses last advertised (most recent first) and the one that last worked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._advertised: dict[str, tuple[Address, ...]] = {}
        self._worked: dict[str, Address] = {}

    def update(self, endpoints: Mapping[str, Endpoint]) -> None:
        """What discovery sees now; the addresses that worked are kept."""
        with self._lock:
            self._advertised = {device: e.addresses for device, e in endpoints.items()}

    def to_try(self, device: str) -> list[Address]:
        """The addresses to dial, in order: the one that worked, then the advertised ones."""
        with self._lock:
            worked = self._worked.get(device)
            advertised = self._advertised.get(device, ())
        return ([worked] if worked else []) + [a for a in advertised if a != worked]

    def worked(self, device: str, address: Address) -> None:
        """Remember the address a verified channel was reached at."""
        with self._lock:
            self._worked[device] = address


def dial(addresses: Sequence[Address], identity: TlsIdentity, policy: PeerPolicy,
         timeout: float = DIAL_TIMEOUT) -> Dialled | NotDialled:
    """Try each address in turn until one gives a channel the policy accepts."""
    refused, reason = False, "no address"
    for host, port in addresses:
        try:
            return Dialled(connect(host, port, identity, policy, timeout), (host, port))
        except PeerRefused as exc:
            refused, reason = True, str(exc)
        except ChannelError as exc:
            reason = str(exc)
    return NotDialled(refused, reason)
