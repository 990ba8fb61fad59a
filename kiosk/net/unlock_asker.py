"""A locked kiosk asks the representative's console for the day's unlock, over the same mutual TLS link.

While the kiosk is locked this is all it runs on the LAN (the courier and
branch sync need the day's keys): one link per console of its branch that
the roster admits, found by zeroconf like the courier's. When staff ask, each
link sends AskUnlock; the representative, signed in on the console, confirms
or refuses. A share is used only if it opens this device (one from anywhere
else is refused and changes nothing); decisions and other traffic a console
sends a locked kiosk are left for the courier, which gets them again after.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.logbook import flush_message_refusals, message_refused
from kiosk.net import messages as m
from kiosk.net.channel import Channel, ChannelError, PeerPolicy, TlsIdentity
from kiosk.net.dialer import AddressBook, Dialled, dial
from kiosk.net.discovery import Endpoint
from kiosk.net.wakeup import Pokeable, tell
from kiosk.state import Installed, UnlockRefused
from kiosk.trust.certs import Role
from kiosk.trust.live import admits

RETRY_SECONDS = 1.0
WRONG_SHARE = "wrong_share"   # besides messages.DENIALS: what a console sent does not open this kiosk


@dataclass(frozen=True, slots=True)
class ConsoleAnswer:
    """What the locked screen shows: consoles linked, whether an ask is out, and the last refusal."""

    consoles: int
    asked: bool
    denied: str | None = None   # one of messages.DENIALS, or WRONG_SHARE


class UnlockAsker(Pokeable):
    """Links to the branch's consoles while locked; `on_unlocked` gets the unlocked device (on a link thread)."""

    def __init__(self, installed: Installed, on_unlocked: Callable[[Installed], None],
                 on_answer: Callable[[ConsoleAnswer], None] | None = None) -> None:
        super().__init__()
        self._installed = installed
        self._roster = installed.roster()
        self._identity = TlsIdentity.from_installed(installed)
        self._addresses = AddressBook()
        self._links: dict[str, threading.Thread] = {}
        self._channels: dict[str, Channel] = {}
        self._asked = False
        self._denied: str | None = None
        self._done = False
        self.on_unlocked = on_unlocked
        self.on_answer: Callable[[ConsoleAnswer], None] = on_answer or (lambda _a: None)

    def endpoints_changed(self, endpoints: dict[str, Endpoint]) -> None:
        """The consoles zeroconf sees now; a link starts for each new one."""
        self._addresses.update(endpoints)
        with self._lock:
            for device in endpoints:
                self._keep_link(self._links, device, self._link, "unlock")

    def ask(self) -> None:
        """Staff asked the representative: every linked console is asked now, and any linked later."""
        with self._lock:
            self._asked, self._denied = True, None
            channels = list(self._channels.values())
        for channel in channels:
            _send(channel, m.AskUnlock())
        self._publish()

    def answer(self) -> ConsoleAnswer:
        """The state the locked screen shows."""
        with self._lock:
            return ConsoleAnswer(len(self._channels), self._asked, self._denied)

    def close(self) -> None:
        """Stop every link and wait for their threads."""
        self._stop.set()
        with self._lock:
            channels, threads = list(self._channels.values()), list(self._links.values())
        for channel in channels:
            channel.close()
        self.poke()
        for thread in threads:
            thread.join(timeout=10)

    def _link(self, device: str) -> None:
        branches = self._installed.claims.branches
        while not self._stop.is_set():
            addresses = self._addresses.to_try(device)
            if not addresses:
                return
            policy = PeerPolicy(Role.REP, frozenset(branches), roster=self._roster, device=device)
            admitted = admits(self._roster, device, Role.REP, branches)
            result = dial(addresses, self._identity, policy) if admitted else None
            if not isinstance(result, Dialled):
                self._sleep(RETRY_SECONDS)
                continue
            self._addresses.worked(device, result.address)
            self._run(device, result.channel)

    def _run(self, device: str, channel: Channel) -> None:
        with self._lock:
            self._channels[device] = channel
            asked = self._asked
        self._publish()
        try:
            if asked:
                channel.send(m.encode(m.AskUnlock()))
            while not self._stop.is_set():
                payload = channel.receive(timeout=0.5)
                if payload is not None:
                    self._handle(channel, m.decode(payload))
        except ChannelError:
            pass
        finally:
            channel.close()
            with self._lock:
                if self._channels.get(device) is channel:
                    del self._channels[device]
            flush_message_refusals()
            self._publish()

    def _handle(self, channel: Channel, message: m.Message | m.Refused) -> None:
        console = channel.peer.device_id
        match message:
            case m.UnlockShare():
                self._share(console, message.share)
            case m.UnlockDenied():
                with self._lock:
                    self._asked, self._denied = False, message.reason
                self._publish()
            case m.Refused():
                message_refused(console, message.reason)
            case _:
                pass   # beacons, revocations, decisions: the courier's, once the kiosk is unlocked

    def _share(self, console: str, share: bytes) -> None:
        with self._lock:
            if self._done:
                return
        try:
            opened = self._installed.unlock(share)
        except UnlockRefused:
            message_refused(console, "unlock share does not open this kiosk")
            with self._lock:
                self._asked, self._denied = False, WRONG_SHARE
            self._publish()
            return
        with self._lock:
            self._done = True
        self._stop.set()
        tell(self.on_unlocked, opened)

    def _publish(self) -> None:
        tell(self.on_answer, self.answer())


def _send(channel: Channel, message: m.Message) -> None:
    try:
        channel.send(m.encode(message))
    except ChannelError:
        pass   # the link is going; the ask goes again when it returns
