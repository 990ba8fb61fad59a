"""Sign-in: pick the account, type the PIN."""
from __future__ import annotations

from typing import Any

from kiosk.ui.screens.accounts import AccountPicker
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.limits import PIN_MAX, limit_pin_box
from kiosk.ui.screens import View, load_kv


class SignInScreen(AccountPicker, View):
    """Staff sign-in; the PIN box is cleared after every try."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("sign_in")
        super().__init__(bridge, name="sign_in", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = PIN_MAX
        limit_pin_box(self.ids.pin)

    def with_card(self) -> None:
        """The branch head signs in with their card: the card checks the PIN typed in the box."""
        pin, self.ids.pin.text = self.ids.pin.text, ""
        if self.bridge.card_sign_in is not None:
            self.bridge.card_sign_in(pin)

    def render(self) -> None:
        self.ids.title.raw = self.t("sign_in.title")
        self.ids.submit.raw = self.t("sign_in.button")
        self.ids.with_card.raw = self.t("sign_in.with_card")
        self.ids.notice.raw = self.notice()
        self.list_accounts()
        self.ids.keypad.relabel(self.bridge.lang == "fa", self.t("ready.clear"), self.t("ready.back"))
