"""An official's card sign-in at a device: the card, its PIN and the roster, off Kivy's thread.

The card checks the PIN and signs a fresh challenge (kiosk.official_card.sign_in);
only the official of the role the device serves is let in: the branch head at a
kiosk, the representative at the console (whose card then signs each decision).
The answer reaches the flow as the core's CardSignIn, through `deliver`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from drivers.card.holder import PinRefused
from drivers.card.profiles import Profile
from drivers.card.reader import CardReader, ReaderStatus
from drivers.errors import DriverError
from kiosk import official_card
from kiosk.core.staff import CardOutcome, CardSignIn
from kiosk.state import Installed, StateRefused
from kiosk.trust.officials import OfficialRole


class CardSignInWiring:
    """`sign_in(pin)` for the sign-in screen; one sign-in at a time."""

    def __init__(self, installed: Installed, reader: CardReader, profile: Profile, role: OfficialRole,
                 deliver: Callable[[CardSignIn], None],
                 on_granted: Callable[[bytes], None] | None = None) -> None:
        """`deliver` hands the answer to the flow on Kivy's thread; `on_granted` gets the card's certificate first."""
        self._installed, self._reader, self._profile, self._role = installed, reader, profile, role
        self._deliver, self._on_granted = deliver, on_granted
        self._busy = threading.Lock()

    @property
    def reader(self) -> CardReader:
        """The reader the card is in (the console's card must stay there to sign decisions)."""
        return self._reader

    def sign_in(self, pin: str) -> None:
        """Start a sign-in with the card in the reader; the answer comes back through `deliver`."""
        if self._reader.status() is not ReaderStatus.CARD_PRESENT:
            self._deliver(CardSignIn(CardOutcome.NO_CARD))
            return
        if not self._busy.acquire(blocking=False):
            return
        threading.Thread(target=self._run, args=(pin,), name="card-sign-in", daemon=True).start()

    def _run(self, pin: str) -> None:
        try:
            result = self.answer(pin)
        finally:
            self._busy.release()
        self._deliver(result)

    def answer(self, pin: str) -> CardSignIn:
        """The sign-in itself, on the calling thread."""
        try:
            answer = official_card.sign_in(self._installed, self._reader.transmit, self._profile, pin)
        except PinRefused:
            return CardSignIn(CardOutcome.PIN_SHORT)
        except (DriverError, StateRefused):
            return CardSignIn(CardOutcome.UNREADABLE)
        match answer:
            case official_card.CardSignedIn(official=official):
                if official.role is not self._role:
                    return CardSignIn(CardOutcome.REFUSED)
                if self._on_granted is not None:
                    self._on_granted(answer.certificate)
                return CardSignIn(CardOutcome.GRANTED, official.account)
            case official_card.CardPinWrong(tries_left=left):
                return CardSignIn(CardOutcome.PIN_WRONG, tries_left=left)
            case official_card.CardPinBlocked():
                return CardSignIn(CardOutcome.BLOCKED)
            case official_card.CardRefused():
                return CardSignIn(CardOutcome.REFUSED)
        return CardSignIn(CardOutcome.REFUSED)
