"""The representative's sign-in: pick the account, type the PIN on the keypad."""
from __future__ import annotations

from typing import Any

from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleView
from kiosk.text.persian import is_rtl, shape_line
from kiosk.ui.limits import PIN_MAX, limit_pin_box
from kiosk.ui.screens.accounts import AccountPicker


class ConsoleSignInScreen(AccountPicker, ConsoleView):
    """The PIN box is cleared after every try; a lock-out is the staff book's, as on the kiosk."""

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        super().__init__(bridge, "sign_in", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = PIN_MAX
        limit_pin_box(self.ids.pin)

    def render(self) -> None:
        self.ids.title.raw = self.t("console.sign_in.title")
        self.ids.submit.raw = self.t("console.sign_in.button")
        hint = self.t("console.sign_in.pin")
        self.ids.pin.hint_text = shape_line(hint, is_rtl(hint))
        self.ids.notice.raw = self.notice()
        self.list_accounts()
        self.ids.keypad.relabel(self.fa, self.t("console.keypad.clear"), self.t("console.keypad.back"))
