"""The three ways a locked kiosk is unlocked at start of day, as one object the locked screen drives.

The branch head's card (the card checks its PIN, then its key opens the slot
the authority made for it), the representative's console (asked over the
branch link; the representative confirms on the console), and the recovery
code of the branch's sealed envelope. Each answer is a short key the screen
translates; none carries a national code. Slow work (the card, the scrypt of
a code) runs on a worker thread and reports through `on_answer`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.card.holder import PinRefused
from drivers.card.profiles import Profile
from drivers.card.reader import CardReader, ReaderStatus
from drivers.errors import DriverError
from kiosk import official_card
from kiosk.net.unlock_asker import ConsoleAnswer, UnlockAsker
from kiosk.state import Installed, StateRefused, UnlockRefused
from kiosk.trust.daykeys import RecoveryCodeRefused


@dataclass(frozen=True, slots=True)
class Answer:
    """What the screen says after a try: a catalogue key under `locked.`, and a number when it has one."""

    key: str
    count: int | None = None


class UnlockRoutes:
    """A locked device and its three ways; `on_unlocked` gets the unlocked device, once, on a worker thread."""

    def __init__(self, installed: Installed, reader: CardReader, profile: Profile,
                 on_unlocked: Callable[[Installed], None], on_answer: Callable[[Answer], None],
                 asker: UnlockAsker | None = None) -> None:
        self.installed = installed
        self._reader, self._profile = reader, profile
        self._on_unlocked, self._on_answer = on_unlocked, on_answer
        self._busy = threading.Lock()
        self._once = threading.Lock()
        self._done = False
        self.asker = asker
        if asker is not None:
            asker.on_unlocked = self._unlocked

    def with_card(self, pin: str) -> None:
        """Unlock with the card in the reader and the PIN typed; the card counts wrong PINs itself."""
        if self._reader.status() is not ReaderStatus.CARD_PRESENT:
            self._on_answer(Answer("card.no_card"))
            return
        self._work(lambda: self._card(pin))

    def with_code(self, typed: str) -> None:
        """Unlock with the recovery code typed from the sealed envelope."""
        self._work(lambda: self._code(typed))

    def ask_console(self) -> None:
        """Ask the representative; the answer comes as console states (`console_state`)."""
        if self.asker is not None:
            self.asker.ask()

    def console_state(self) -> ConsoleAnswer:
        """Consoles linked, whether an ask is out, and the last refusal (none linked without a network)."""
        return self.asker.answer() if self.asker is not None else ConsoleAnswer(0, False)

    def _work(self, job: Callable[[], None]) -> None:
        if not self._busy.acquire(blocking=False):
            return   # one try at a time: a second touch while the card works is ignored
        self._on_answer(Answer("working"))

        def run() -> None:
            try:
                job()
            finally:
                self._busy.release()
        threading.Thread(target=run, name="unlock", daemon=True).start()

    def _card(self, pin: str) -> None:
        try:
            answer = official_card.unlock(self.installed, self._reader.transmit, self._profile, pin)
        except PinRefused:
            self._on_answer(Answer("card.pin_short"))
            return
        except (DriverError, StateRefused):
            self._on_answer(Answer("card.unreadable"))
            return
        match answer:
            case official_card.CardSignedIn():
                self._unlocked(answer.installed)
            case official_card.CardPinWrong(tries_left=left):
                self._on_answer(Answer("card.wrong_pin", left))
            case official_card.CardPinBlocked():
                self._on_answer(Answer("card.blocked"))
            case official_card.CardRefused():
                self._on_answer(Answer("card.refused"))

    def _code(self, typed: str) -> None:
        try:
            opened = self.installed.unlock_with_code(typed)
        except RecoveryCodeRefused as exc:
            self._on_answer(Answer("code.mistyped", exc.typed_digits))
            return
        except UnlockRefused:
            self._on_answer(Answer("code.wrong"))
            return
        self._unlocked(opened)

    def _unlocked(self, opened: Installed) -> None:
        """The first way that worked wins (a card and the console may answer at once)."""
        with self._once:
            if self._done:
                return
            self._done = True
        self._on_unlocked(opened)
