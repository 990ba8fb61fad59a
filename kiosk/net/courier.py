"""The kiosk's courier: finds the representative's consoles, delivers cases, brings decisions back.

One link thread per console found by zeroconf and admitted by the election's
roster (an advert gives addresses only: each is dialled in turn, and the
handshake checks it is that console, enrolled and not revoked). A link sends
every case the outbox holds unacknowledged (to one console, chosen the same
way on every kiosk), withdraws cancelled ones, verifies and records each
signed decision and acknowledges it only after it is committed. A lost
connection is retried with backoff; whatever was not acknowledged is simply
sent again, and case ids make that harmless. The revocation list goes both
ways: the newest one wins, and the roster's listeners close what it refuses.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.core.cases import Case, CaseStatus, Decision, UndoAuthorization
from kiosk.desk import approved_voter
from kiosk.official_card import endorsement_problem
from kiosk.logbook import Event, flush_message_refusals, log, message_refused
from kiosk.net import messages as m
from kiosk.net.channel import Channel, ChannelError, PeerPolicy, TlsIdentity
from kiosk.net.dialer import AddressBook, Dialled, dial
from kiosk.net.discovery import Endpoint
from kiosk.net.wakeup import Pokeable, tell
from kiosk.state import Installed, StateRefused
from kiosk.store.ledger import Ledger
from kiosk.store.replica import count_unacknowledged_duplicates, list_anomalies
from kiosk.store.outbox import CaseOutbox, DecisionRecorded, DecisionRefused, DecisionRepeated
from kiosk.store.registry import RegistryKeys
from kiosk.trust import certs
from kiosk.trust.certs import Role
from kiosk.trust.decisions import decision_verifies, undo_authorized, undo_reason
from kiosk.trust.live import LiveRoster, Refused, admits
from kiosk.trust.roster import Roster

SOFTWARE = "0.2.0"
STATUS_SECONDS = 5.0
SKEW_BOUND_MS = 120_000
BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """What the status bar shows about the representative's consoles."""

    consoles: int               # consoles connected now
    skew_ms: int | None         # this kiosk's clock minus the console's, at the last beacon
    skew_alarm: bool            # beyond the configured bound: staff are told


class Courier(Pokeable):
    """Links to every console of this kiosk's election and branch; thread-safe to poke and close."""

    def __init__(self, installed: Installed, on_status: Callable[[LinkStatus], None] | None = None,
                 on_cases: Callable[[], None] | None = None, skew_bound_ms: int = SKEW_BOUND_MS,
                 today_start_utc: Callable[[], str] | None = None, live: LiveRoster | None = None) -> None:
        """`live` is the roster in force, shared with branch sync (one is made when none is given)."""
        super().__init__()
        self._installed = installed
        self._live = live or LiveRoster(installed)
        self._live.subscribe(self._roster_changed)
        self._addresses = AddressBook()
        self._channels: dict[str, Channel] = {}
        self._identity = TlsIdentity.from_installed(installed)
        self._index_of = RegistryKeys.derive(installed.registry_key).index_of
        self.on_status: Callable[[LinkStatus], None] = on_status or (lambda _s: None)
        self.on_cases: Callable[[], None] = on_cases or (lambda: None)
        self._skew_bound = skew_bound_ms
        self._today = today_start_utc or (lambda: "")
        self._links: dict[str, threading.Thread] = {}
        self._online: set[str] = set()
        self._skew: int | None = None

    # -- driven by discovery and the screen ------------------------------------------------
    def endpoints_changed(self, endpoints: dict[str, Endpoint]) -> None:
        """The consoles zeroconf sees now (Browser.on_change: addresses only); starts a link for each new one."""
        self._addresses.update(endpoints)
        with self._lock:
            for device in endpoints:
                self._keep_link(self._links, device, self._link, "courier")
            self._poke_locked()

    def close(self) -> None:
        """Stop every link and wait for their threads."""
        self._stop.set()
        self.poke()
        with self._lock:
            threads = list(self._links.values())
        for thread in threads:
            thread.join(timeout=10)

    # -- one console -----------------------------------------------------------------------
    def _link(self, device: str) -> None:
        """Dial the console at each address known for it until one is the console itself; again when it drops.

        The address that worked is kept even after a goodbye (anyone can send one in the console's name).
        A console the roster does not admit (unknown, revoked) is not dialled, only looked at again later.
        """
        failures = 0
        branches = self._installed.claims.branches
        while not self._stop.is_set():
            addresses = self._addresses.to_try(device)
            if not addresses:
                return  # the console went away; discovery starts a new link if it returns
            admitted = admits(self._live.source, device, Role.REP, branches)
            policy = PeerPolicy(Role.REP, frozenset(branches), roster=self._live.source, device=device)
            result = dial(addresses, self._identity, policy) if admitted else None
            if not isinstance(result, Dialled):
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                self._sleep(delay)
                continue
            failures = 0
            self._addresses.worked(device, result.address)
            self._run(device, result.channel)

    def _run(self, device: str, channel: Channel) -> None:
        ledger = self._installed.open_ledger()
        outbox = self._installed.open_outbox(ledger)
        with self._lock:
            self._online.add(device)
            self._channels[device] = channel
        self._publish()
        sender = threading.Thread(target=self._send_loop, args=(device, channel), name=f"courier-send-{device[:6]}",
                                  daemon=True)
        sender.start()
        try:
            self._send_revocations(channel)   # a list this kiosk got by USB stick: the console relays it on
            while not self._stop.is_set():
                payload = channel.receive(timeout=0.5)
                if payload is not None:
                    self._handle(channel, outbox, m.decode(payload))
        except ChannelError:
            pass
        finally:
            channel.close()
            self.poke()
            sender.join(timeout=10)
            ledger.close()
            with self._lock:
                self._online.discard(device)
                if self._channels.get(device) is channel:
                    del self._channels[device]
            flush_message_refusals()
            self._publish()

    def _send_loop(self, device: str, channel: Channel) -> None:
        """Send what the outbox holds for this console, whenever poked, and a status now and then."""
        ledger = self._installed.open_ledger()
        outbox = self._installed.open_outbox(ledger)
        sent: set[tuple[str, str]] = set()
        next_status = 0.0
        try:
            while not self._stop.is_set():
                with self._lock:
                    generation = self._generation
                if time.monotonic() >= next_status:
                    channel.send(m.encode(self._status(ledger, outbox)))
                    next_status = time.monotonic() + STATUS_SECONDS
                for case in outbox.unsynced():
                    key = (case.case_id, case.status.value)
                    if key not in sent and self._addressed_to(device, case, outbox):
                        channel.send(m.encode(_outgoing(case, outbox)))
                        sent.add(key)
                        if case.status is CaseStatus.WAITING:
                            log(Event.CASE_SENT, case=case.case_id)
                with self._lock:
                    if self._generation == generation and not self._stop.is_set():
                        self._wake.wait(timeout=min(STATUS_SECONDS, max(0.0, next_status - time.monotonic())))
        except ChannelError:
            pass
        finally:
            channel.close()
            ledger.close()

    def _addressed_to(self, device: str, case: Case, outbox: CaseOutbox) -> bool:
        """New cases go to one console (the lowest device id online); withdrawals to the one that has it."""
        if case.status is CaseStatus.CANCELLED:
            return outbox.console_of(case.case_id) == device
        with self._lock:
            return device == min(self._online, default=device)

    def _handle(self, channel: Channel, outbox: CaseOutbox, message: m.Message | m.Refused) -> None:
        console = channel.peer.device_id
        match message:
            case m.Ack(step="case"):
                if outbox.mark_delivered(message.case_id, console):
                    log(Event.CASE_DELIVERED, case=message.case_id)
                    self.on_cases()
            case m.Ack(step="cancel"):
                outbox.mark_cancel_acknowledged(message.case_id)
            case m.Decide():
                self._decision(channel, outbox, message)
            case m.Beacon():
                self._beacon(message)
            case m.Revocations():
                self._revocations(console, message)
            case m.Refused():
                message_refused(console, message.reason)
            case _:
                message_refused(console, f"unexpected {type(message).__name__} from a console")

    def _decision(self, channel: Channel, outbox: CaseOutbox, message: m.Decide) -> None:
        decision, console = message.decision, channel.peer.device_id
        public = channel.peer_cert.public_key()
        if decision.rep != console or not isinstance(public, ed25519.Ed25519PublicKey) or \
                not decision_verifies(decision, self._installed.config.id, message.signature, public):
            log(Event.DECISION_REFUSED, case=decision.case_id, reason="signature does not verify")
            return
        # The undo travels with the decision and is stored only as verified: a decision whose undo does not
        # verify is refused whole (never acknowledged), rather than recorded as an approval without it.
        if message.undo is not None and not _undo_verifies(self._installed.config.id, decision, message.undo, public):
            log(Event.DECISION_REFUSED, case=decision.case_id, reason="undo authorization does not verify")
            return
        problem = self._card_problem(message)
        if problem is not None:
            log(Event.DECISION_REFUSED, case=decision.case_id, reason=problem)
            return
        result = outbox.record_decision(decision, message.signature, approved_voter(self._index_of, decision),
                                        message.undo, message.card)
        match result:
            case DecisionRecorded():
                log(Event.DECISION_RECORDED, case=decision.case_id, ruling=decision.ruling.value, seq=result.seq)
                self.on_cases()
            case DecisionRepeated():
                pass
            case DecisionRefused():
                log(Event.DECISION_REFUSED, case=decision.case_id, reason=result.reason)
                return
        channel.send(m.encode(m.Ack(decision.case_id, "decision")))

    def _card_problem(self, message: m.Decide) -> str | None:
        """Why the decision's card signature does not stand, or None: required once a representative of this
        branch has a card enrolled, and then it must be that representative's card (kiosk.official_card)."""
        installed = self._installed
        try:
            roster = installed.officials_roster()
        except StateRefused:
            return "the installed package carries no valid officials roster"
        return endorsement_problem(message.card, message.decision, installed.config.id, installed.card_anchors(),
                                   installed.config.day.to_gregorian(), roster, installed.officials_key,
                                   installed.claims.branches)

    def _revocations(self, console: str, message: m.Revocations) -> None:
        """A list relayed by the console: verified and kept if newer; the roster listeners do the rest."""
        result = self._live.offer(message.signed)
        if isinstance(result, Refused):
            message_refused(console, f"revocations: {result.reason}")

    def _roster_changed(self, roster: Roster) -> None:
        """A newer list or roster: close the links to consoles it no longer admits, pass the list to the others."""
        with self._lock:
            channels = dict(self._channels)
        for device, channel in channels.items():
            reason = roster.refusal(device, certs.fingerprint(channel.peer_cert))
            if reason is not None:
                log(Event.PEER_SHUT_OUT, peer=device, reason=reason)
                channel.close()
            else:
                self._send_revocations(channel)

    def _send_revocations(self, channel: Channel) -> None:
        signed = self._live.signed()
        if signed is None or len(signed) > m.MAX_REVOCATIONS:
            return
        try:
            channel.send(m.encode(m.Revocations(signed)))
        except ChannelError:
            pass  # the link is going; the list goes again on the next connection

    def _beacon(self, beacon: m.Beacon) -> None:
        skew = time.time_ns() // 1_000_000 - beacon.wall_ms
        with self._lock:
            was_alarm = self._skew is not None and abs(self._skew) > self._skew_bound
            self._skew = skew
        if abs(skew) > self._skew_bound and not was_alarm:
            log(Event.CLOCK_SKEW, skew_ms=skew)
        self._publish()

    def _status(self, ledger: Ledger, outbox: CaseOutbox) -> m.Status:
        open_cases = sum(1 for c in outbox.cases() if c.status in (CaseStatus.WAITING, CaseStatus.DELIVERED))
        # Every STATUS_SECONDS on the sender's thread, never on a check-in's path: the count reads the undos held.
        return m.Status(self._installed.claims.branches[0], ledger.live_check_ins_since(self._today()),
                        open_cases, time.time_ns() // 1_000_000, SOFTWARE, count_unacknowledged_duplicates(ledger),
                        len(list_anomalies(ledger)))

    def best_time_ms(self) -> int:
        """This kiosk's best time: its own clock, or the console's last beacon when that is later.

        A Pi without a real-time clock may boot hours behind; bounding the other kiosks' stamps
        by such a clock would cut the branch off, so the console's time lifts it (never lowers it).
        """
        now = time.time_ns() // 1_000_000
        with self._lock:
            skew = self._skew
        return now if skew is None else max(now, now - skew)

    def status(self) -> LinkStatus:
        """The link as the status bar shows it."""
        with self._lock:
            skew = self._skew
            return LinkStatus(len(self._online), skew, skew is not None and abs(skew) > self._skew_bound)

    def _publish(self) -> None:
        tell(self.on_status, self.status())


def _undo_verifies(election_id: str, decision: Decision, undo: UndoAuthorization,
                   public: ed25519.Ed25519PublicKey) -> bool:
    """The console's undo authorization checked as every peer will check it later (kiosk.trust.decisions)."""
    reason = undo_reason(decision.case_id, decision.rep, undo.signature)
    return undo_authorized(election_id, decision.kiosk, undo.target, reason,
                           lambda rep: public if rep == decision.rep else None)


def _outgoing(case: Case, outbox: CaseOutbox) -> m.Message:
    if case.status is CaseStatus.CANCELLED:
        return m.Cancel(case.case_id, outbox.cancel_reason(case.case_id)[:200])
    return m.OpenCase(case.case_id, case.created, case.form)
