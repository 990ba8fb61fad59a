"""Sign-in by account and PIN, shared by the kiosk's and the console's sign-in screens."""
from __future__ import annotations

from typing import Any

from kiosk.text.persian import is_rtl, shape_line


class AccountPicker:
    """A spinner of account names and a PIN box; the screen's kv gives ids `account` and `pin`.

    Spinner items are drawn as given, so each name is shown shaped and mapped back to its account.
    """

    ids: Any
    bridge: Any

    def list_accounts(self) -> None:
        """Refresh the spinner from the state's (account, name, role) list."""
        accounts = [(account, shape_line(name, is_rtl(name))) for account, name, _ in self.bridge.state.accounts]
        if accounts != getattr(self, "_accounts", None):
            self._accounts = accounts
            self.ids.account.values = [name for _, name in accounts]
            if self.ids.account.text not in self.ids.account.values:
                self.ids.account.text = accounts[0][1] if accounts else ""

    def submit(self) -> None:
        """Try the PIN for the chosen account; the PIN box is cleared whatever happens."""
        chosen = [account for account, name in getattr(self, "_accounts", []) if name == self.ids.account.text]
        pin, self.ids.pin.text = self.ids.pin.text, ""
        if chosen:
            self.bridge.flow.sign_in(chosen[0], pin)
