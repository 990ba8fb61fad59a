"""Find peers on the branch LAN by zeroconf and announce this device, for any of the kiosk's service types.

An advert is unauthenticated: anyone on the LAN can send one naming any device.
So adverts give addresses only, a few per device id and only for ids the
election's roster holds; who a peer is comes from the roster, and the dialler
checks it in the TLS handshake. A false advert costs at most a failed dial.
"""
from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ifaddr
from zeroconf import Error as ZeroconfError
from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from kiosk.logbook import Event, log

REP_SERVICE = "_kiosk-rep._tcp.local."
SYNC_SERVICE = "_kiosk-sync._tcp.local."
PROTOCOL_VERSION = "1"

# A console that loses power sends no goodbye: kiosks keep it until its pointer record expires,
# 75 minutes at zeroconf's default. python-zeroconf browsers raise any pointer TTL below
# 1125 s to 1125 s, so this gives about 19 minutes; the connection layer must expect a
# listed peer that does not answer.
_TTL_S = 120
# Announcements carry every record, so a resolve is normally answered from the cache at once;
# this only bounds the wait when a packet was lost.
_RESOLVE_MS = 1500
_DEVICE = re.compile(r"[0-9a-f]{16}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# The same rules as kiosk.core.election: anything an election config accepts must be findable.
_ELECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BRANCH = re.compile(r"[0-9A-Za-z-]{1,16}")
_KEYS = frozenset({"v", "election", "branches", "fp", "device"})
_TXT_STRING_MAX = 255  # one DNS character-string (RFC 6763 §6.1)
MAX_ADDRESSES = 4      # per device id: a false advert adds one, and cannot push out what a dialler found working
MAX_IGNORED = 64       # services kept to show as ignored: a flood of adverts must not grow memory


class DiscoveryError(Exception):
    """zeroconf could not open its sockets, register or update a service."""


Address = tuple[str, int]   # (IPv4 host, TCP port)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one device was advertised: addresses only, most recent first, at most MAX_ADDRESSES.

    Who the device is (certificate, role, branches) comes from the election's
    roster, never from here: an advert is unauthenticated, so a dialler must check
    that the device it reaches is the one it meant (PeerPolicy(device=...)).
    """

    device: str
    addresses: tuple[Address, ...]

    @classmethod
    def at(cls, device: str, host: str, port: int) -> Endpoint:
        """One device at one address (what a test or a fixed configuration knows)."""
        return cls(device, ((host, port),))

    @property
    def host(self) -> str:
        """The most recently advertised host."""
        return self.addresses[0][0]

    @property
    def port(self) -> int:
        """The most recently advertised port."""
        return self.addresses[0][1]


@dataclass(frozen=True, slots=True)
class Advert:
    """What this device announces.

    The fingerprint stays in the TXT record for a technician's eyes (avahi-browse
    shows which certificate a device claims, to compare with the roster) and keeps
    the wire format of earlier versions; no browser trusts it for anything.
    """

    device: str
    port: int
    election: str
    branches: tuple[str, ...]
    fingerprint: str


@dataclass(frozen=True, slots=True)
class _Ignored:
    """A service that is seen but not offered: keyed by device id when readable, else instance name."""

    key: str
    reason: str


def _open(interfaces: list[str] | None) -> Zeroconf:
    """A started zeroconf on every interface (None) or only the given IPv4 addresses."""
    try:
        return Zeroconf(
            interfaces=InterfaceChoice.All if interfaces is None else list(interfaces),
            ip_version=IPVersion.V4Only,
        )
    except (ZeroconfError, OSError, RuntimeError) as exc:
        raise DiscoveryError(f"zeroconf could not start: {type(exc).__name__}") from exc


def _check_advert(advert: Advert) -> None:
    """Refuse (ValueError) an advert that browsers would ignore as malformed."""
    txt = _txt(advert)
    if not (_DEVICE.fullmatch(advert.device) and _FINGERPRINT.fullmatch(advert.fingerprint)
            and _ELECTION.fullmatch(advert.election) and 1 <= advert.port <= 65535 and advert.branches
            and all(_BRANCH.fullmatch(b) for b in advert.branches)
            and all(len(f"{k}={v}") <= _TXT_STRING_MAX for k, v in txt.items())):
        raise ValueError("advert: device, fingerprint, election, port or branches out of rule")


def _txt(advert: Advert) -> dict[str, str]:
    return {"v": PROTOCOL_VERSION, "election": advert.election, "branches": ",".join(advert.branches),
            "fp": advert.fingerprint, "device": advert.device}


def machine_ipv4() -> list[str]:
    """Every non-loopback IPv4 address of this machine."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.IPv4Address(ip.ip).is_loopback and ip.ip not in found:
                found.append(ip.ip)
    return found


class Advertiser:
    """Announces this device under one service type until closed."""

    def __init__(self, service_type: str, advert: Advert, interfaces: list[str] | None = None,
                 addresses: list[str] | None = None) -> None:
        """Check the advert; nothing is sent before start()."""
        _check_advert(advert)
        self._type = service_type
        self._advert = advert
        self._interfaces = interfaces
        self._addresses = addresses
        self._zc: Zeroconf | None = None

    def start(self) -> None:
        """Open zeroconf and register; returns once the announcements are sent (about 0.5 s)."""
        if self._zc is not None:
            raise RuntimeError("advertiser already started")
        zc = _open(self._interfaces)
        try:
            # Probing only detects a name clash, and instance and host names are the device id,
            # unique by enrollment: skipping the three probes makes the first announcement
            # leave at once instead of about 1.2 s later.
            zc.register_service(self._info(self._advert), cooperating_responders=True)
        except (ZeroconfError, OSError, ValueError) as exc:
            zc.close()
            raise DiscoveryError(f"zeroconf could not register: {type(exc).__name__}") from exc
        self._zc = zc
        log(Event.ADVERTISED, device=self._advert.device, service=self._type, port=self._advert.port)

    def update(self, advert: Advert) -> None:
        """Announce changed details (e.g. a new port); the device id cannot change."""
        _check_advert(advert)
        if advert.device != self._advert.device:
            raise ValueError("advert: the device id of a running advertiser cannot change")
        if self._zc is None:
            raise RuntimeError("advertiser not started")
        try:
            if self._interfaces is None:
                # Rebinds zeroconf's sockets when the machine's addresses changed since start().
                self._zc.update_interfaces()
            self._zc.update_service(self._info(advert))
        except (ZeroconfError, OSError, ValueError) as exc:
            raise DiscoveryError(f"zeroconf could not update: {type(exc).__name__}") from exc
        self._advert = advert
        log(Event.ADVERTISED, device=advert.device, service=self._type, port=advert.port)

    def close(self) -> None:
        """Send goodbye packets and stop zeroconf's threads; safe to call twice."""
        zc, self._zc = self._zc, None
        if zc is not None:
            zc.close()  # unregisters every service of this instance (goodbyes) before closing

    def _info(self, advert: Advert) -> ServiceInfo:
        # Re-read the machine's addresses at each (re)registration: a DHCP lease may have changed.
        if self._addresses is not None:
            addresses = list(self._addresses)
        elif self._interfaces is not None:
            addresses = list(self._interfaces)
        else:
            addresses = machine_ipv4()
        if not addresses or not all(isinstance(ipaddress.ip_address(a), ipaddress.IPv4Address) for a in addresses):
            raise ValueError("no IPv4 address to advertise")
        return ServiceInfo(
            self._type, f"{advert.device}.{self._type}", port=advert.port, properties=_txt(advert),
            server=f"{advert.device}.local.", host_ttl=_TTL_S, other_ttl=_TTL_S, parsed_addresses=addresses,
        )


@dataclass(frozen=True, slots=True)
class _Seen:
    """A well-formed advert: one device id at one address (election and branches only to filter by)."""

    device: str
    address: Address
    election: str
    branches: tuple[str, ...]


def _read(info: ServiceInfo, service_type: str) -> _Seen | _Ignored:
    """The address a resolved service gives, or why it gives none (version or malformed).

    One advert gives one address (its first usable one), so an advert naming a
    real device adds at most one address to the few kept for it.
    """
    name = info.name
    try:
        txt = {k.decode("ascii"): v.decode("ascii") for k, v in info.properties.items() if v is not None}
    except UnicodeDecodeError:
        return _Ignored(name, "malformed")
    device = txt.get("device", "")
    key = device if _DEVICE.fullmatch(device) and name == f"{device}.{service_type}" else name
    # A later version may carry other fields, so a version mismatch is told apart from malformed.
    if txt.get("v", PROTOCOL_VERSION) not in ("", PROTOCOL_VERSION):
        return _Ignored(key, "version")
    branches = tuple(txt.get("branches", "").split(","))
    hosts = [a for a in info.parsed_addresses(IPVersion.V4Only)
             if not (ipaddress.IPv4Address(a).is_unspecified or ipaddress.IPv4Address(a).is_multicast)]
    # The fingerprint is still checked for form (an advert is a whole, or nothing) but trusted for nothing.
    if (key != device or set(txt) != _KEYS or len(info.properties) != len(_KEYS)
            or txt["v"] != PROTOCOL_VERSION or not _FINGERPRINT.fullmatch(txt["fp"]) or not _ELECTION.fullmatch(txt["election"])
            or not all(_BRANCH.fullmatch(b) for b in branches) or not info.port or not 1 <= info.port <= 65535
            or not hosts):
        return _Ignored(key, "malformed")
    return _Seen(device, (hosts[0], info.port), txt["election"], branches)


class Browser:
    """Keeps, per device id of our election and branches, the few addresses it was last advertised at.

    `known` says which device ids to keep at all (the roster's, for the role and
    branch we look for): adverts for any other id add nothing, however many.
    """

    def __init__(self, service_type: str, election: str, branches: Iterable[str],
                 on_change: Callable[[dict[str, Endpoint]], None] | None = None,
                 interfaces: list[str] | None = None, known: Callable[[str], bool] | None = None) -> None:
        """Remember what to keep; nothing is sent before start().

        on_change runs on the browser's own thread, one change at a time: hand work over, don't block it.
        """
        self._type = service_type
        self._election = election
        self._branches = frozenset(branches)
        self._on_change = on_change
        self._interfaces = interfaces
        self._known = known
        self._lock = threading.Lock()
        self._addresses: dict[str, tuple[Address, ...]] = {}   # by device id, most recent first
        self._ignored: dict[str, _Ignored] = {}                # by instance name, at most MAX_IGNORED
        self._zc: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None

    def start(self) -> None:
        """Open zeroconf and start browsing; the first query leaves within about 0.1 s."""
        if self._zc is not None:
            raise RuntimeError("browser already started")
        zc = _open(self._interfaces)
        try:
            self._browser = ServiceBrowser(zc, self._type, handlers=[self._on_state_change])
        except (ZeroconfError, RuntimeError) as exc:
            zc.close()
            raise DiscoveryError(f"zeroconf could not browse: {type(exc).__name__}") from exc
        self._zc = zc

    def endpoints(self) -> dict[str, Endpoint]:
        """The devices seen, by device id, with their addresses: a copy, safe from any thread."""
        with self._lock:
            return self._snapshot()

    def ignored(self) -> dict[str, str]:
        """Services seen but not kept: device id (or instance name) -> reason (a few, not every one)."""
        with self._lock:
            return {i.key: i.reason for i in self._ignored.values()}

    def recheck(self) -> None:
        """The roster changed: judge again, from zeroconf's cache, the services ignored for not being in it."""
        zc = self._zc
        with self._lock:
            names = [name for name, ignored in self._ignored.items() if ignored.reason == "roster"]
        for name in names:
            info = ServiceInfo(self._type, name)
            if zc is not None and info.load_from_cache(zc):
                self._apply(name, self._judge(_read(info, self._type)))

    def close(self) -> None:
        """Stop the browser thread and zeroconf's threads; safe to call twice."""
        browser, zc = self._browser, self._zc
        self._browser, self._zc = None, None
        if browser is not None:
            browser.cancel()  # joins the browser thread, so no handler runs after this
        if zc is not None:
            zc.close()

    def _on_state_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                         state_change: ServiceStateChange) -> None:
        # Runs on the ServiceBrowser's own thread (not zeroconf's event loop), where a blocking
        # resolve is allowed; events are handled one at a time, in order.
        if state_change is ServiceStateChange.Removed:
            self._gone(name)
            return
        info = ServiceInfo(service_type, name)
        try:
            resolved = info.request(zeroconf, _RESOLVE_MS)
        except (ZeroconfError, RuntimeError):
            resolved = False  # zeroconf is closing, or its loop is busy
        if resolved:
            self._apply(name, self._judge(_read(info, service_type)))
        # Unresolved: keep what we knew; the missing records fire another event when they arrive.

    def _judge(self, found: _Seen | _Ignored) -> _Seen | _Ignored:
        if isinstance(found, _Ignored):
            return found
        if found.election != self._election:
            return _Ignored(found.device, "election")
        if self._branches.isdisjoint(found.branches):
            return _Ignored(found.device, "branch")
        if self._known is not None and not self._known(found.device):
            return _Ignored(found.device, "roster")
        return found

    def _apply(self, name: str, outcome: _Seen | _Ignored) -> None:
        """Add the address an advert gives, or note why it gives none; log and notify on a change.

        An advert never takes an address away: one naming a device falsely, or a
        device that lost its way, cannot push out the addresses already seen.
        """
        if isinstance(outcome, _Ignored):
            self._ignore(name, outcome)
            return
        with self._lock:
            self._ignored.pop(name, None)
            before = self._addresses.get(outcome.device, ())
            after = (outcome.address, *(a for a in before if a != outcome.address))[:MAX_ADDRESSES]
            self._addresses[outcome.device] = after
            snapshot = self._snapshot()
        if not before:
            log(Event.SERVICE_FOUND, device=outcome.device, service=self._type)
        if after != before:
            self._notify(snapshot)

    def _ignore(self, name: str, outcome: _Ignored) -> None:
        """Note a service not kept (a few of them: a flood of adverts must not grow memory or the log)."""
        with self._lock:
            fresh = self._ignored.get(name) != outcome and (name in self._ignored or len(self._ignored) < MAX_IGNORED)
            if fresh:
                self._ignored[name] = outcome
        if fresh:
            log(Event.SERVICE_IGNORED, device=outcome.key, reason=outcome.reason, service=self._type)

    def _gone(self, name: str) -> None:
        """A goodbye: the device's addresses are forgotten (a dialler keeps the one that worked)."""
        device = name[:-len(self._type) - 1] if name.endswith(f".{self._type}") else ""
        with self._lock:
            self._ignored.pop(name, None)
            lost = self._addresses.pop(device, None) if _DEVICE.fullmatch(device) else None
            snapshot = self._snapshot()
        if lost is not None:
            log(Event.SERVICE_LOST, device=device, service=self._type)
            self._notify(snapshot)

    def _snapshot(self) -> dict[str, Endpoint]:
        return {device: Endpoint(device, addresses) for device, addresses in self._addresses.items()}

    def _notify(self, snapshot: dict[str, Endpoint]) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(snapshot)
        except Exception as exc:  # a listener's bug must not stop discovery
            log(Event.LISTENER_FAILED, error=type(exc).__name__)
