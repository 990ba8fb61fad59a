"""The representative's sign-in: pick the account, type the PIN on the keypad."""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty

from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleView
from kiosk.text.persian import is_rtl, shape_line
from kiosk.ui.limits import PIN_MAX, limit_pin_box
from kiosk.ui.screens.accounts import AccountPicker


class ConsoleSignInScreen(AccountPicker, ConsoleView):
    """The PIN box is cleared after every try; a lock-out is the staff book's, as on the kiosk.

    With a card reader the representative may sign in with the card instead (the card checks the PIN typed
    in the box), and then the card signs every decision.
    """

    has_card = BooleanProperty(False)

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        super().__init__(bridge, "sign_in", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = PIN_MAX
        limit_pin_box(self.ids.pin)
        # The card reader is wired after the app is built (kiosk.rep.cli): look for it now and then.
        Clock.schedule_interval(lambda _dt: setattr(self, "has_card", self.bridge.card_sign_in is not None), 0.5)

    def with_card(self) -> None:
        """Sign in with the representative's card and the PIN typed in the box."""
        pin, self.ids.pin.text = self.ids.pin.text, ""
        if self.bridge.card_sign_in is not None:
            self.bridge.card_sign_in(pin)

    def render(self) -> None:
        self.has_card = self.bridge.card_sign_in is not None
        self.ids.title.raw = self.t("console.sign_in.title")
        self.ids.submit.raw = self.t("console.sign_in.button")
        self.ids.with_card.raw = self.t("console.sign_in.with_card")
        hint = self.t("console.sign_in.pin")
        self.ids.pin.hint_text = shape_line(hint, is_rtl(hint))
        self.ids.notice.raw = self.notice()
        self.list_accounts()
        self.ids.keypad.relabel(self.fa, self.t("console.keypad.clear"), self.t("console.keypad.back"))
