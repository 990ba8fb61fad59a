"""Sign-in: pick the account, type the PIN."""
from __future__ import annotations

from typing import Any

from kiosk.text.persian import is_rtl, shape_line
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv


class SignInScreen(View):
    """Staff sign-in; the PIN box is cleared after every try."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("sign_in")
        self._accounts: list[tuple[str, str]] = []
        super().__init__(bridge, name="sign_in", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = 8

    def _list_accounts(self) -> None:
        """Spinner items are drawn as given: show each name shaped, remember which account it is."""
        state = self.bridge.state
        accounts = [(account, shape_line(name, is_rtl(name))) for account, name, _ in state.accounts]
        if accounts != self._accounts:
            self._accounts = accounts
            self.ids.account.values = [name for _, name in accounts]
            if self.ids.account.text not in self.ids.account.values:
                self.ids.account.text = accounts[0][1] if accounts else ""

    def submit(self) -> None:
        """Try the PIN for the chosen account."""
        chosen = [a for a, name in self._accounts if name == self.ids.account.text]
        pin, self.ids.pin.text = self.ids.pin.text, ""
        if chosen:
            self.bridge.flow.sign_in(chosen[0], pin)

    def render(self) -> None:
        self.ids.title.raw = self.t("sign_in.title")
        self.ids.submit.raw = self.t("sign_in.button")
        self.ids.notice.raw = self.notice()
        self._list_accounts()
        self.ids.keypad.relabel(self.bridge.lang == "fa", self.t("ready.clear"), self.t("ready.back"))
