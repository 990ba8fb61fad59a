"""The representative's sign-in: pick the account, type the PIN on the keypad."""
from __future__ import annotations

from typing import Any

from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleView
from kiosk.text.persian import is_rtl, shape_line


class ConsoleSignInScreen(ConsoleView):
    """The PIN box is cleared after every try; a lock-out is the staff book's, as on the kiosk."""

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        self._accounts: list[tuple[str, str]] = []
        super().__init__(bridge, "sign_in", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = 8

    def _list_accounts(self) -> None:
        """Spinner items are drawn as given: show each name shaped, remember which account it is."""
        accounts = [(account, shape_line(name, is_rtl(name))) for account, name, _ in self.bridge.state.accounts]
        if accounts != self._accounts:
            self._accounts = accounts
            self.ids.account.values = [name for _, name in accounts]
            if self.ids.account.text not in self.ids.account.values:
                self.ids.account.text = accounts[0][1] if accounts else ""

    def submit(self) -> None:
        """Try the PIN for the chosen account."""
        chosen = [account for account, name in self._accounts if name == self.ids.account.text]
        pin, self.ids.pin.text = self.ids.pin.text, ""
        if chosen:
            self.bridge.flow.sign_in(chosen[0], pin)

    def render(self) -> None:
        self.ids.title.raw = self.t("console.sign_in.title")
        self.ids.submit.raw = self.t("console.sign_in.button")
        hint = self.t("console.sign_in.pin")
        self.ids.pin.hint_text = shape_line(hint, is_rtl(hint))
        self.ids.notice.raw = self.notice()
        self._list_accounts()
        self.ids.keypad.relabel(self.fa, self.t("console.keypad.clear"), self.t("console.keypad.back"))
