"""Ready: insert the card, scan it, or type the code on a keypad that shows Persian digits."""
from __future__ import annotations

from typing import Any

from kiosk.core.flow import Notice
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv


class ReadyScreen(View):
    """Waiting for the next person; a hardware keyboard or keyboard-wedge scanner types into the code box."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("ready")
        super().__init__(bridge, name="ready", **kwargs)
        self.ids.keypad.target = self.ids.code
        self._refresh()

    def check(self) -> None:
        """Ask the core about the code typed so far, then clear the box for the next person."""
        raw, self.ids.code.text = self.ids.code.text, ""
        if raw.strip():
            self.bridge.flow.code_entered(raw)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("ready.title")
        self.ids.check.raw = self.t("ready.check")
        self.ids.escalate.raw = self.t("ready.escalate")
        self.ids.lock.raw = self.t("lock")
        unseen = state.decided_unseen if state is not None else 0
        self.ids.cases.raw = self.t("cases.open_new", count=unseen) if unseen else self.t("cases.open")
        self.ids.staff.raw = self.t("staff.open")
        duplicates = len(state.duplicates) if state is not None else 0
        self.ids.duplicates.raw = self.t("ready.duplicates", count=duplicates) if duplicates else ""
        # On this screen the red button is the notice of a double check-in; other notices still show above it.
        said_by_button = duplicates > 0 and state.notice is Notice.DUPLICATE_CHECK_IN
        self.ids.notice.raw = "" if said_by_button else self.notice()
        self.ids.keypad.relabel(self.bridge.lang == "fa", self.t("ready.clear"), self.t("ready.back"))
