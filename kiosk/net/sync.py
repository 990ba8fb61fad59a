"""Branch sync: the kiosks of one branch pull from each other what they are missing, so nobody votes twice.

Each kiosk serves `_kiosk-sync._tcp` over mutual TLS and browses for the
others of its election and branch; of two kiosks, the one with the lower
device id dials. Both ends of a link say what they hold (`Want`: the highest
sequence per device, and which kiosks they are linked to directly); each then
sends the other the pages it lacks — its own events always, other kiosks'
events only to a peer not linked to that kiosk itself (a relay, so a kiosk that
sees one peer still converges). A new local event is pushed at once. Pages are
verified by the replica before they are stored; a double check-in found on the
way is reported to the screen.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.core.branch import PeerSeen, SyncStatus
from kiosk.logbook import Event, flush_message_refusals, log, message_refused
from kiosk.net import sync_messages as sm
from kiosk.net.channel import Channel, ChannelError, PeerPolicy, Server, TlsIdentity
from kiosk.net.dialer import AddressBook, Dialled, dial
from kiosk.net.courier import SOFTWARE
from kiosk.net.discovery import SYNC_SERVICE, Advert, Advertiser, Browser, DiscoveryError, Endpoint
from kiosk.net.keeper import Closable, DiscoveryKeeper
from kiosk.net.messages import Refused
from kiosk.net.wakeup import Pokeable, tell
from kiosk.state import Installed
from kiosk.store.ledger import Kind, Ledger
from kiosk.store.replica import PAGE, PageRefused, Replica, Stored, list_anomalies
from kiosk.trust import certs
from kiosk.trust.live import admits
from kiosk.trust.roster import Roster, RosterSource

WANT_SECONDS = 1.0
ANOMALY_SECONDS = 1.0   # at most one recount of the anomalies a second: it reads every undo held
BACKOFF = (0.2, 0.5, 1.0, 2.0, 4.0)
_MAX_REFUSED = 64   # kiosks shown as refused: a flood of adverts for unknown ids must not grow it


@dataclass
class _Session:
    """One live link to another kiosk."""

    channel: Channel
    their_heads: dict[str, int] = field(default_factory=dict)   # what they hold, as far as we know
    sent_upto: dict[str, int] = field(default_factory=dict)     # what we have sent them since
    last_want: dict[str, int] | None = None                     # the heads of their previous Want
    stalled: frozenset[str] = frozenset()   # devices they made no progress on between their last two Wants
    direct: frozenset[str] | None = None    # kiosks they are linked to; None until their first Want
    last_contact: str = ""
    alive: bool = True
    replica: Replica | None = None          # the receiving side's, so a newer roster reaches it at once


class BranchSync(Pokeable):
    """This kiosk's side of branch sync; thread-safe to poke, query and close."""

    def __init__(self, installed: Installed, on_status: Callable[[SyncStatus], None] | None = None,
                 on_duplicates: Callable[[], None] | None = None, lan: list[str] | None = None,
                 host: str = "0.0.0.0", port: int = 0, now_ms: Callable[[], int] | None = None) -> None:
        """`now_ms` is this kiosk's best time (the console's clock when it has one): peers' stamps are bounded by it."""
        super().__init__()
        self._now_ms: Callable[[], int] = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._roster = RosterSource(installed.roster)
        self._installed = installed
        self._me = installed.claims.device_id
        self._branches = installed.claims.branches
        self._identity = TlsIdentity.from_installed(installed)
        self._own_cert = certs.cert_pem(installed.device_cert)
        self.on_status: Callable[[SyncStatus], None] = on_status or (lambda _s: None)
        self.on_duplicates: Callable[[], None] = on_duplicates or (lambda: None)
        self._lan = lan
        self._sessions: dict[str, _Session] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._dialers: dict[str, threading.Thread] = {}
        self._last_contact: dict[str, str] = {}
        self._refused: dict[str, str] = {}
        self._mine: dict[str, int] = {}     # our heads, as the senders last read them
        self._pages: dict[tuple[str, int], tuple[bytes, int]] = {}
        self._anomalies = 0                 # records the rules refused to count, for the status bar
        self._anomalies_owed = False        # a page may have added one since the last count
        self._anomalies_next = 0.0          # monotonic time the next count may run
        self._addresses = AddressBook()
        # Only enrolled, unrevoked kiosks of our branch, with the very certificate the roster holds.
        self._server = Server(self._identity, PeerPolicy(certs.Role.KIOSK, frozenset(self._branches),
                                                         roster=self._roster),
                              self._serve, host=host, port=port)
        self._browser: Browser | None = None
        self._keeper: DiscoveryKeeper | None = None

    @property
    def port(self) -> int:
        """The TCP port other kiosks dial."""
        return self._server.port

    def start(self, discover: bool = True) -> None:
        """Serve, and (unless told not to) advertise and browse by zeroconf, kept up across address changes."""
        ledger = self._installed.open_ledger()
        try:
            self._anomalies = len(list_anomalies(ledger))   # evidence kept before a restart shows at once
        finally:
            ledger.close()
        self._server.start()
        if discover:
            self._keeper = DiscoveryKeeper("sync", self._discovery)
            self._keeper.start()

    def _discovery(self) -> list[Closable]:
        """Advertise this kiosk and browse for the others (again after the machine's addresses changed)."""
        self.endpoints_changed({})   # what an earlier browser saw may be gone; links already up stay
        advert = Advert(self._me, self.port, self._installed.config.id, self._branches, self._identity.fingerprint)
        advertiser = Advertiser(SYNC_SERVICE, advert, interfaces=self._lan)
        advertiser.start()
        browser = Browser(SYNC_SERVICE, self._installed.config.id, self._branches,
                          on_change=self.endpoints_changed, interfaces=self._lan,
                          known=lambda d: admits(self._roster, d, certs.Role.KIOSK, self._branches))
        try:
            browser.start()
        except DiscoveryError:
            advertiser.close()
            raise
        self._browser = browser
        return [browser, advertiser]

    def close(self) -> None:
        """Stop discovery, every link and the server, and wait for their threads."""
        self._stop.set()
        if self._keeper is not None:
            self._keeper.close()
        self.poke()
        with self._lock:
            sessions = [s.channel for s in self._sessions.values()]
            dialers = list(self._dialers.values())
        for channel in sessions:
            channel.close()
        for thread in dialers:
            thread.join(timeout=10)
        self._server.close()

    def endpoints_changed(self, endpoints: dict[str, Endpoint]) -> None:
        """The kiosks zeroconf sees now (addresses only); dial those with a higher device id than ours."""
        self._addresses.update(endpoints)
        with self._lock:
            self._endpoints = {d: e for d, e in endpoints.items() if d != self._me}
            for device in self._endpoints:
                if device > self._me:
                    self._keep_link(self._dialers, device, self._dial, "sync-dial")
            self._poke_locked()
        self._publish()

    def status(self) -> SyncStatus:
        """Peers online, last contact, events behind, and kiosks refused."""
        with self._lock:
            mine = self._mine
            peers = []
            for device in sorted(set(self._endpoints) | set(self._sessions) | set(self._last_contact)):
                session = self._sessions.get(device)
                behind = sum(max(0, n - mine.get(d, 0)) for d, n in session.their_heads.items()) if session else 0
                peers.append(PeerSeen(device, session is not None, self._last_contact.get(device, ""), behind))
            refused = dict(self._refused)
            anomalies = self._anomalies
        if self._browser is not None:
            refused.update(self._browser.ignored())
        return SyncStatus(tuple(peers), tuple(sorted(refused.items())), anomalies)

    # -- links -----------------------------------------------------------------------------
    def _dial(self, device: str) -> None:
        """Dial the kiosk at each address known for it until one is that kiosk; the address that worked first.

        A device the roster does not admit (unknown, revoked) is not dialled: shown as refused, and looked
        at again after a backoff, as a technician may add its certificate while the app runs.
        """
        failures = 0
        while not self._stop.is_set():
            with self._lock:
                linked = device in self._sessions
            addresses = self._addresses.to_try(device)
            if not addresses:
                return
            if not linked and not admits(self._roster, device, certs.Role.KIOSK, self._branches):
                with self._lock:
                    told = self._refused.get(device) == "roster" or len(self._refused) >= _MAX_REFUSED
                    if not told:
                        self._refused[device] = "roster"
                if not told:
                    self._publish()
                failures += 1
                self._sleep(BACKOFF[min(failures - 1, len(BACKOFF) - 1)])
                continue
            if not linked:
                policy = PeerPolicy(certs.Role.KIOSK, frozenset(self._branches), roster=self._roster, device=device)
                result = dial(addresses, self._identity, policy)
                if not isinstance(result, Dialled):
                    if result.refused:
                        with self._lock:
                            self._refused[device] = "certificate"
                        self._publish()
                    failures += 1
                    self._sleep(BACKOFF[min(failures - 1, len(BACKOFF) - 1)])
                    continue
                failures = 0
                self._addresses.worked(device, result.address)
                self._serve(result.channel)
            else:
                self._sleep(1.0)

    def _serve(self, channel: Channel) -> None:
        """One link, on its own thread (the server's or the dialer's): receive here, send on a helper thread."""
        peer = channel.peer.device_id
        ledger = self._installed.open_ledger()
        # Events received from peers can be fetched again after a power cut; only our own need FULL.
        ledger.connection.execute("PRAGMA synchronous=NORMAL")
        replica = self._replica(ledger)
        session = _Session(channel, replica=replica)
        with self._lock:
            old = self._sessions.get(peer)
            self._sessions[peer] = session
            self._refused.pop(peer, None)
        if old is not None:
            old.channel.close()
        sender = threading.Thread(target=self._send_loop, args=(peer, session), name=f"sync-send-{peer[:6]}",
                                  daemon=True)
        try:
            channel.send(sm.encode(sm.Hello(self._installed.config.id, self._branches[0], sm.PROTOCOL, SOFTWARE)))
            hello = sm.decode(channel.receive(timeout=10) or b"")
            if not isinstance(hello, sm.Hello) or hello.protocol != sm.PROTOCOL:
                reason = "version" if isinstance(hello, sm.Hello) else "no hello"
                with self._lock:
                    self._refused[peer] = reason
                log(Event.PEER_REFUSED, peer=peer, reason=f"sync: {reason}")
                return
            self._contact(peer, session)
            sender.start()
            while not self._stop.is_set():
                payload = channel.receive(timeout=0.5)
                if payload is not None:
                    self._handle(peer, session, replica, sm.decode(payload))
        except ChannelError:
            pass
        finally:
            channel.close()
            with self._lock:
                session.alive = False
                if self._sessions.get(peer) is session:
                    del self._sessions[peer]
                self._poke_locked()
            if sender.is_alive():
                sender.join(timeout=10)
            ledger.close()
            flush_message_refusals()
            self._publish()

    def _handle(self, peer: str, session: _Session, replica: Replica, message: sm.SyncMessage | Refused) -> None:
        self._contact(peer, session)
        owed = False
        match message:
            case sm.Want():
                with self._lock:
                    self._took_want(session, message)
                    self._poke_locked()
                self._publish()
            case sm.Page():
                result = replica.store(message.device, message.cert_pem, message.events)
                match result:
                    case Stored():
                        if result.new and message.device in self._refused:
                            with self._lock:
                                self._refused.pop(message.device, None)
                        if result.new:
                            with self._lock:
                                if message.events[-1].seq > session.their_heads.get(message.device, 0):
                                    session.their_heads[message.device] = message.events[-1].seq
                                self._poke_locked()      # relay to the others
                        if result.duplicates:
                            log(Event.DUPLICATE_FOUND, count=result.duplicates)
                            self.on_duplicates()
                    case PageRefused():
                        self._page_refused(peer, message.device, result.reason)
                # A refusal may be an equivocation, a short store a revocation cut, an undo one of another's.
                owed = isinstance(result, PageRefused) or result.new < len(message.events) or \
                    any(e.kind is Kind.UNDO for e in message.events)
            case sm.Hello():
                pass
            case Refused():
                message_refused(peer, f"sync: {message.reason}")
        self._count_anomalies(replica, owed)

    def _count_anomalies(self, replica: Replica, owed: bool) -> None:
        """Recount what the rules refused to count when a page may have added to it, at most once a second.

        A count owed inside the second waits for the next message (every peer sends a Want each second),
        so a peer sending refused pages in a loop costs this kiosk one count a second, not one a page.
        """
        now = time.monotonic()
        with self._lock:
            self._anomalies_owed |= owed
            if not self._anomalies_owed or now < self._anomalies_next:
                return
            self._anomalies_owed, self._anomalies_next = False, now + ANOMALY_SECONDS
        count = len(replica.anomalies())
        with self._lock:
            changed, self._anomalies = count != self._anomalies, count
        if changed:
            self._publish()

    def _took_want(self, session: _Session, want: sm.Want) -> None:
        """Their heads move what we send forward; a device they made no progress on for a round is resent.

        Pages already on their way are not sent again. A device whose head did not move between two
        Wants while we hold more is "stalled": its pages were refused (they came ahead of a gap) or its
        own kiosk is out of their reach, so we send it from what they hold, relaying if need be.
        """
        heads, last = want.heads, session.last_want
        devices = set(heads) | set(self._mine)
        session.stalled = frozenset() if last is None else frozenset(
            d for d in devices if heads.get(d, 0) == last.get(d, 0) < self._mine.get(d, 0))
        for device in devices:
            held = heads.get(device, 0)
            session.their_heads[device] = max(session.their_heads.get(device, 0), held)
            upto = session.sent_upto.get(device, 0)
            session.sent_upto[device] = held if device in session.stalled else max(upto, held)
        session.last_want = dict(heads)
        session.direct = frozenset(want.direct)

    def _send_loop(self, peer: str, session: _Session) -> None:
        """Tell the peer what we hold about once a second, and send it whatever it lacks as soon as we have it."""
        ledger = self._installed.open_ledger()
        replica = self._replica(ledger)
        next_want = 0.0
        try:
            while not self._stop.is_set() and session.alive:
                with self._lock:
                    generation = self._generation
                mine = replica.heads()
                with self._lock:
                    self._mine = mine
                if time.monotonic() >= next_want:
                    with self._lock:
                        direct = tuple(sorted(self._sessions))
                    session.channel.send(sm.encode(sm.Want(mine, direct)))
                    next_want = time.monotonic() + WANT_SECONDS
                self._send_missing(peer, session, replica, mine)
                with self._lock:
                    if self._generation == generation and not self._stop.is_set():
                        self._wake.wait(timeout=max(0.0, next_want - time.monotonic()))
        except ChannelError:
            pass
        finally:
            session.channel.close()
            ledger.close()

    def _send_missing(self, peer: str, session: _Session, replica: Replica, mine: dict[str, int]) -> None:
        for device, head in mine.items():
            with self._lock:
                upto = session.sent_upto.get(device, 0)
                # Another kiosk's events go only as a relay: to a peer not linked to that kiosk, and only
                # once it has made no progress on it for a round (its own kiosk is the faster source).
                relay = session.direct is not None and device not in session.direct and device in session.stalled
            if device == peer or head <= upto or (device != self._me and not relay):
                continue
            cert = replica.certificate(device)
            if cert is None:
                continue
            while upto < head and not self._stop.is_set():
                wire = self._page_wire(replica, device, cert, upto)
                if wire is None:
                    break
                session.channel.send(wire[0])
                upto = wire[1]
                with self._lock:
                    session.sent_upto[device] = upto

    def _page_wire(self, replica: Replica, device: str, cert: bytes, after: int) -> tuple[bytes, int] | None:
        """The encoded page after `after` and its last sequence; full pages are encoded once for every peer."""
        with self._lock:
            cached = self._pages.get((device, after))
        if cached is not None:
            return cached
        events = replica.page(device, after)
        if not events:
            return None
        wire = (sm.encode(sm.Page(device, cert, tuple(events))), events[-1].seq)
        if len(events) == PAGE:  # a full page never changes; a short one grows with the next event
            with self._lock:
                if len(self._pages) > 2000:
                    self._pages.clear()
                self._pages[(device, after)] = wire
        return wire

    def use_roster(self, roster: Roster) -> None:
        """A newer revocation list or roster addition: pages are judged by it from now on, and a link
        to a peer it no longer admits is closed (the handshake refuses it next time)."""
        self._roster.replace(roster)
        if self._browser is not None:
            self._browser.recheck()   # adverts of a device the roster now holds, ignored until now
        with self._lock:
            sessions = dict(self._sessions)
        for peer, session in sessions.items():
            if session.replica is not None:
                session.replica.use_roster(self._roster)
            if roster.refusal(peer, certs.fingerprint(session.channel.peer_cert)) is not None:
                session.channel.close()

    def _replica(self, ledger: Ledger) -> Replica:
        return Replica(ledger, self._installed.authority_cert, self._own_cert, self._branches,
                       roster=self._roster, now_ms=self._now_ms)

    def _page_refused(self, peer: str, device: str, reason: str) -> None:
        """The device whose page it was shows as refused, with why; logged once per reason, not every round."""
        short = reason.split(":", 1)[0] if reason.startswith("clock:") else reason
        with self._lock:
            told = self._refused.get(device) == short
            self._refused[device] = short
        if not told:
            log(Event.MESSAGE_REFUSED, peer=peer, device=device, reason=f"sync page: {reason}")
            self._publish()

    # -- small things ----------------------------------------------------------------------
    def _contact(self, peer: str, session: _Session) -> None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            session.last_contact = now
            self._last_contact[peer] = now

    def _publish(self) -> None:
        tell(self.on_status, self.status())
