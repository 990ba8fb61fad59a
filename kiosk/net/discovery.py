"""Find peers on the branch LAN by zeroconf and announce this device, for any of the kiosk's service types."""
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


class DiscoveryError(Exception):
    """zeroconf could not open its sockets, register or update a service."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One advertised peer."""

    name: str
    device: str
    host: str
    port: int
    election: str
    branches: tuple[str, ...]
    fingerprint: str
    version: str


@dataclass(frozen=True, slots=True)
class Advert:
    """What this device announces."""

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


def _read(info: ServiceInfo, service_type: str) -> Endpoint | _Ignored:
    """The endpoint a resolved service describes, or why it is not one (version or malformed)."""
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
    if (key != device or set(txt) != _KEYS or len(info.properties) != len(_KEYS)
            or txt["v"] != PROTOCOL_VERSION or not _FINGERPRINT.fullmatch(txt["fp"]) or not _ELECTION.fullmatch(txt["election"])
            or not all(_BRANCH.fullmatch(b) for b in branches) or not info.port or not 1 <= info.port <= 65535
            or not hosts):
        return _Ignored(key, "malformed")
    return Endpoint(name=name, device=device, host=hosts[0], port=info.port, election=txt["election"],
                    branches=branches, fingerprint=txt["fp"], version=txt["v"])


class Browser:
    """Keeps the endpoints of one service type that belong to our election and branches."""

    def __init__(self, service_type: str, election: str, branches: Iterable[str],
                 on_change: Callable[[dict[str, Endpoint]], None] | None = None,
                 interfaces: list[str] | None = None) -> None:
        """Remember what to keep; nothing is sent before start().

        on_change runs on the browser's own thread, one change at a time: hand work over, don't block it.
        """
        self._type = service_type
        self._election = election
        self._branches = frozenset(branches)
        self._on_change = on_change
        self._interfaces = interfaces
        self._lock = threading.Lock()
        self._offered: dict[str, Endpoint] = {}  # by instance name
        self._ignored: dict[str, _Ignored] = {}  # by instance name
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
        """The offered endpoints by device id: a copy, safe from any thread."""
        with self._lock:
            return {e.device: e for e in self._offered.values()}

    def ignored(self) -> dict[str, str]:
        """Services seen but not offered: device id (or instance name) -> reason."""
        with self._lock:
            return {i.key: i.reason for i in self._ignored.values()}

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
            self._apply(name, None)
            return
        info = ServiceInfo(service_type, name)
        try:
            resolved = info.request(zeroconf, _RESOLVE_MS)
        except (ZeroconfError, RuntimeError):
            resolved = False  # zeroconf is closing, or its loop is busy
        if resolved:
            self._apply(name, self._judge(_read(info, service_type)))
        # Unresolved: keep what we knew; the missing records fire another event when they arrive.

    def _judge(self, found: Endpoint | _Ignored) -> Endpoint | _Ignored:
        if isinstance(found, _Ignored):
            return found
        if found.election != self._election:
            return _Ignored(found.device, "election")
        if self._branches.isdisjoint(found.branches):
            return _Ignored(found.device, "branch")
        return found

    def _apply(self, name: str, outcome: Endpoint | _Ignored | None) -> None:
        """Record what a service now is (None: gone), then log and notify on a change."""
        with self._lock:
            before = self._offered.pop(name, None)
            was_ignored = self._ignored.pop(name, None)
            if isinstance(outcome, Endpoint):
                self._offered[name] = outcome
            elif outcome is not None:
                self._ignored[name] = outcome
            snapshot = {e.device: e for e in self._offered.values()}
        after = outcome if isinstance(outcome, Endpoint) else None
        if after is not None and before is None:
            log(Event.SERVICE_FOUND, device=after.device, service=self._type)
        elif before is not None and after is None:
            log(Event.SERVICE_LOST, device=before.device, service=self._type)
        if isinstance(outcome, _Ignored) and outcome != was_ignored:
            log(Event.SERVICE_IGNORED, device=outcome.key, reason=outcome.reason, service=self._type)
        if before != after:
            self._notify(snapshot)

    def _notify(self, snapshot: dict[str, Endpoint]) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(snapshot)
        except Exception as exc:  # a listener's bug must not stop discovery
            log(Event.LISTENER_FAILED, error=type(exc).__name__)
