"""The representative's console service: receives cases from kiosks, signs decisions, sends them back.

Every kiosk connection is mutual TLS with a `kiosk` certificate for one of the
console's branches (kiosk.net.channel). A case is acknowledged only once it is
in the case book; a decision is sent only once it is in the book, and again on
every reconnect until the kiosk acknowledges it — so a restart or a dropped
connection on either side never loses a case or a decision, and case ids make
every resend harmless. Only kiosks the election's roster holds, unrevoked, are
admitted; the newest revocation list the console holds goes to every kiosk on
connect and whenever a newer one arrives.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from drivers.errors import DriverError
from kiosk.core.cases import (CardEndorsement, CaseReason, Decision, DecisionProblem, Ruling, UndoAuthorization,
                              check_decision, check_form)
from kiosk.core.console import KioskSeen, RepCase, RepCaseStatus, UnlockGrant
from kiosk.core.national_code import InvalidCode, ascii_digits_only, parse_national_code
from kiosk.logbook import Event, flush_message_refusals, log, message_refused
from kiosk.net import messages as m
from kiosk.net.channel import Channel, ChannelError, PeerPolicy, Server, TlsIdentity
from kiosk.rep.book import CaseBook, Clash, Signed
from kiosk.state import Installed, StateRefused, load_signing_key
from kiosk.trust import certs
from kiosk.trust.certs import Role
from kiosk.trust.decisions import sign_decision, sign_undo
from kiosk.trust.live import LiveRoster, Refused
from kiosk.trust.roster import Roster

class Endorser(Protocol):
    """The representative's card, signing decisions (kiosk.official_card.CardEndorser)."""

    def endorse(self, decision: Decision, election_id: str) -> CardEndorsement:
        """The card's signature over the decision; DriverError when the card cannot sign."""
        ...


BEACON_SECONDS = 2.0
CASE_BOOK = "cases.json"


class RepService:
    """The console's side of the branch LAN, and the case book its screens read (CaseBookPort)."""

    def __init__(self, installed: Installed, host: str = "0.0.0.0", port: int = 0,
                 beacon_seconds: float = BEACON_SECONDS, wall_ms: Callable[[], int] | None = None,
                 live: LiveRoster | None = None) -> None:
        """`live` is the roster in force (one is made, and watched while serving, when none is given)."""
        if installed.claims.role is not Role.REP:
            raise ValueError("this device is not enrolled as a representative's console")
        self._installed = installed
        self._election = installed.config.id
        self._day = installed.config.rules.day
        self._key = load_signing_key(installed.state)
        self._book = CaseBook(installed.state / CASE_BOOK, installed.data_keys())
        self._beacon = beacon_seconds
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._kiosks: dict[str, KioskSeen] = {}
        self._links: dict[str, Channel] = {}
        self._asking: set[str] = set()   # kiosks linked now whose staff asked for the day's unlock
        # The signed-in representative's card (kiosk.official_card.CardEndorser), when they signed in with it:
        # every decision is then signed on the card too.
        self.endorser: Endorser | None = None
        self._listeners: list[Callable[[], None]] = []
        self.identity = TlsIdentity.from_installed(installed)
        # Only enrolled, unrevoked kiosks, with the very certificate the roster holds; a newer list closes the rest.
        self._owns_live = live is None
        self.live = live or LiveRoster(installed)
        self.live.subscribe(self._roster_changed)
        policy = PeerPolicy(Role.KIOSK, frozenset(installed.claims.branches), roster=self.live.source)
        self._server = Server(self.identity, policy, self._serve, host=host, port=port)

    @property
    def port(self) -> int:
        """The TCP port kiosks connect to."""
        return self._server.port

    def start(self) -> None:
        """Start accepting kiosks, and watch for a revocation list a technician adds from a stick."""
        self._server.start()
        if self._owns_live:
            self.live.watch()

    def close(self) -> None:
        """Stop serving; every acknowledged case and every decision is already in the book."""
        if self._owns_live:
            self.live.close()
        self._server.close()
        self._book.close()

    # -- CaseBookPort ----------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Be told (on a network thread) whenever a case or a kiosk changes."""
        self._listeners.append(listener)

    def open_cases(self) -> list[RepCase]:
        """Cases waiting for a decision, oldest first."""
        return [c for c in self._book.all_cases() if c.status is RepCaseStatus.OPEN]

    def recent_decided(self, limit: int = 20) -> list[RepCase]:
        """The latest decided or withdrawn cases, newest first."""
        closed = [c for c in self._book.all_cases() if c.status is not RepCaseStatus.OPEN]
        closed.sort(key=lambda c: c.decision.decided_at if c.decision else c.received_at, reverse=True)
        return closed[:limit]

    def case(self, case_id: str) -> RepCase | None:
        """One case by id."""
        return self._book.case(case_id)

    def kiosks(self) -> list[KioskSeen]:
        """Every kiosk heard from since the console started, by branch and device."""
        with self._lock:
            return sorted(self._kiosks.values(), key=lambda k: (k.branch, k.device))

    def grant_unlock(self, kiosk: str, account: str) -> UnlockGrant:
        """The signed-in representative `account` confirmed the kiosk: send it its share, over its link only."""
        share = self._share_for(kiosk)
        if share is None:
            return UnlockGrant.CANNOT
        with self._lock:
            link = self._links.get(kiosk) if kiosk in self._asking else None
            self._asking.discard(kiosk)
        if link is None:
            return UnlockGrant.NOT_ASKING
        self._send(link, m.UnlockShare(share))
        log(Event.REP_UNLOCK_GRANTED, kiosk=kiosk, account=account)
        self._mark_asking(kiosk, False)
        return UnlockGrant.SENT

    def deny_unlock(self, kiosk: str, account: str) -> bool:
        """The representative refused: the kiosk is told and stays locked; False if it was not asking."""
        with self._lock:
            link = self._links.get(kiosk) if kiosk in self._asking else None
            self._asking.discard(kiosk)
        if link is None:
            return False
        self._send(link, m.UnlockDenied(m.REFUSED_BY_REP))
        log(Event.REP_UNLOCK_DENIED, kiosk=kiosk, account=account, reason="refused")
        self._mark_asking(kiosk, False)
        return True

    def _share_for(self, kiosk: str) -> bytes | None:
        """The kiosk's other share, from this console's unlocked secrets (an unlock another process made counts)."""
        if self._installed.locked:
            try:
                self._installed = Installed.open(self._installed.state)
            except StateRefused:
                return None
        if self._installed.locked:
            return None
        return self._installed.kiosk_share(kiosk)

    def decide(self, case_id: str, ruling: Ruling, national_code: str, reference: str,
               reason: str) -> RepCase | list[DecisionProblem]:
        """Sign and keep the decision durably, then send it to the kiosk if it is connected."""
        problems = check_decision(ruling, national_code, reference, reason)
        if problems:
            return problems
        code = ""
        if national_code:
            parsed = parse_national_code(national_code)
            if isinstance(parsed, InvalidCode):
                return [DecisionProblem.CODE]
            code = parsed
        case = self._book.case(case_id)
        if case is None or case.status is not RepCaseStatus.OPEN:
            return [DecisionProblem.CASE_CLOSED]
        decision = Decision(case_id, case.kiosk, ruling, code if ruling is Ruling.APPROVE else "",
                            ascii_digits_only(reference.strip()) if ruling is Ruling.APPROVE else "",
                            reason.strip(), _iso(self._wall_ms()), self.identity.claims.device_id)
        card = None
        if self.endorser is not None:
            try:
                card = self.endorser.endorse(decision, self._election)
            except (DriverError, ValueError):
                return [DecisionProblem.CARD]   # nothing signed, nothing kept: the card left or refused
        signature = sign_decision(decision, self._election, self._key)
        undo = None
        if ruling is Ruling.APPROVE and case.form.reason is CaseReason.DISPUTED and case.form.disputed:
            # The representative ruled the disputed check-in was not this person's: authorize undoing exactly it.
            undo = UndoAuthorization(case.form.disputed, sign_undo(self._election, case_id, case.kiosk,
                                                                   decision.rep, case.form.disputed, self._key))
        decided = self._book.decide(case_id, decision, signature, undo, card)
        if decided is None:
            return [DecisionProblem.CASE_CLOSED]
        log(Event.REP_DECIDED, case=case_id, ruling=ruling.value)
        self._notify()
        with self._lock:
            link = self._links.get(case.kiosk)
        if link is not None:
            self._send(link, _decide(Signed(decision, signature, undo, card)))
        return decided

    # -- one kiosk's connection (on the server's thread for it) ----------------------------
    def _serve(self, channel: Channel) -> None:
        kiosk = channel.peer.device_id
        with self._lock:
            old = self._links.pop(kiosk, None)
            self._links[kiosk] = channel
        if old is not None:
            old.close()  # a kiosk that reconnects replaces its old link
        self._seen(kiosk, channel.peer.branches[0], online=True)
        try:
            self._send(channel, m.Beacon(self._wall_ms()))
            self._send_revocations(channel)
            for signed in self._book.undelivered(kiosk):
                self._send(channel, _decide(signed))
            next_beacon = time.monotonic() + self._beacon
            while True:
                payload = channel.receive(timeout=max(0.05, next_beacon - time.monotonic()))
                if time.monotonic() >= next_beacon:
                    self._send(channel, m.Beacon(self._wall_ms()))
                    next_beacon = time.monotonic() + self._beacon
                if payload is not None:
                    self._handle(channel, m.decode(payload))
        except ChannelError:
            pass
        finally:
            with self._lock:
                if self._links.get(kiosk) is channel:
                    del self._links[kiosk]
                    self._asking.discard(kiosk)
            flush_message_refusals()
            self._seen(kiosk, channel.peer.branches[0], online=False, asks_unlock=False)

    def _handle(self, channel: Channel, message: m.Message | m.Refused) -> None:
        kiosk = channel.peer.device_id
        match message:
            case m.OpenCase():
                self._receive_case(channel, message)
            case m.Ack(step="decision"):
                if self._book.mark_delivered(kiosk, message.case_id):
                    log(Event.REP_DECISION_DELIVERED, case=message.case_id)
                    self._notify()
            case m.Cancel():
                ended = self._book.withdraw(kiosk, message.case_id)
                if ended is RepCaseStatus.CANCELLED:
                    log(Event.REP_CASE_CANCELLED, case=message.case_id)
                    self._notify()
                signed = self._book.signed(message.case_id) if ended is RepCaseStatus.DECIDED else None
                if signed is not None:
                    self._send(channel, _decide(signed))  # decided before the withdrawal arrived: it stands
                self._send(channel, m.Ack(message.case_id, "cancel"))
            case m.Status():
                skew = message.wall_ms - self._wall_ms()
                self._seen(kiosk, message.branch if message.branch in channel.peer.branches
                           else channel.peer.branches[0], online=True,
                           checkins=message.checkins_today, open_cases=message.open_cases, skew=skew,
                           duplicates=message.duplicates, anomalies=message.anomalies)
            case m.Revocations():
                self._revocations(kiosk, message)
            case m.AskUnlock():
                self._asked_to_unlock(channel)
            case m.Refused():
                message_refused(kiosk, message.reason)
            case _:
                message_refused(kiosk, f"unexpected {type(message).__name__} from a kiosk")

    def _receive_case(self, channel: Channel, message: m.OpenCase) -> None:
        kiosk = channel.peer.device_id
        if not message.case_id.startswith(f"E-{kiosk[:6].upper()}-"):
            message_refused(kiosk, "case id of another kiosk")
            return
        problems = check_form(message.form, self._day)
        if problems:
            message_refused(kiosk, f"case form: {problems[0].value}")
            return
        result = self._book.receive(kiosk, channel.peer.branches[0], message.case_id, message.created,
                                    message.form)
        if isinstance(result, Clash):
            message_refused(kiosk, "case id clash")
            return
        self._send(channel, m.Ack(message.case_id, "case"))
        if result.new:
            log(Event.REP_CASE_RECEIVED, case=message.case_id, reason=message.form.reason.value)
            self._notify()

    def _asked_to_unlock(self, channel: Channel) -> None:
        """A locked kiosk asks: shown to the representative, or refused at once if this console cannot unlock it."""
        kiosk = channel.peer.device_id
        if self._share_for(kiosk) is None:
            reason = m.CONSOLE_LOCKED if self._installed.locked else m.NOT_ITS_KIOSK
            self._send(channel, m.UnlockDenied(reason))
            log(Event.REP_UNLOCK_DENIED, kiosk=kiosk, account="", reason="cannot")
            return
        with self._lock:
            if self._links.get(kiosk) is not channel:
                return
            self._asking.add(kiosk)
        log(Event.REP_UNLOCK_ASKED, kiosk=kiosk)
        self._mark_asking(kiosk, True)

    def _mark_asking(self, kiosk: str, asking: bool) -> None:
        with self._lock:
            old = self._kiosks.get(kiosk)
            if old is not None:
                self._kiosks[kiosk] = replace(old, asks_unlock=asking)
        self._notify()

    def _seen(self, kiosk: str, branch: str, online: bool, checkins: int | None = None,
              open_cases: int | None = None, skew: int | None = None, duplicates: int | None = None,
              anomalies: int | None = None, asks_unlock: bool | None = None) -> None:
        with self._lock:
            now = _iso(self._wall_ms())
            old = self._kiosks.get(kiosk) or KioskSeen(kiosk, branch, online, now, 0, 0, 0)
            self._kiosks[kiosk] = replace(
                old, branch=branch, online=online, last_seen=now,
                checkins_today=old.checkins_today if checkins is None else checkins,
                open_cases=old.open_cases if open_cases is None else open_cases,
                skew_ms=old.skew_ms if skew is None else skew,
                duplicates=old.duplicates if duplicates is None else duplicates,
                anomalies=old.anomalies if anomalies is None else anomalies,
                asks_unlock=old.asks_unlock if asks_unlock is None else asks_unlock)
        self._notify()

    def _revocations(self, kiosk: str, message: m.Revocations) -> None:
        """A list a kiosk got by USB stick: kept if newer, and then relayed to every kiosk (_roster_changed)."""
        result = self.live.offer(message.signed)
        if isinstance(result, Refused):
            message_refused(kiosk, f"revocations: {result.reason}")

    def _roster_changed(self, roster: Roster) -> None:
        """A newer list or roster is in force: close the links it no longer admits, relay it to the others."""
        with self._lock:
            links = dict(self._links)
        for kiosk, channel in links.items():
            reason = roster.refusal(kiosk, certs.fingerprint(channel.peer_cert))
            if reason is not None:
                log(Event.PEER_SHUT_OUT, peer=kiosk, reason=reason)
                channel.close()
            else:
                self._send_revocations(channel)

    def _send_revocations(self, channel: Channel) -> None:
        """The newest list this console holds, to one kiosk (it keeps it only if newer than its own)."""
        signed = self.live.signed()
        if signed is not None and len(signed) <= m.MAX_REVOCATIONS:
            self._send(channel, m.Revocations(signed))

    def _send(self, channel: Channel, message: m.Message) -> None:
        try:
            channel.send(m.encode(message))
        except ChannelError:
            pass  # the kiosk went away; everything unacknowledged is sent again when it returns

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception as exc:  # a screen's listener must not stop the network
                log(Event.LISTENER_FAILED, error=type(exc).__name__)


def _decide(signed: Signed) -> m.Decide:
    return m.Decide(signed.decision, signed.signature, signed.undo, signed.card)


def _iso(wall_ms: int) -> str:
    return dt.datetime.fromtimestamp(wall_ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds")
