"""Ready: insert the card, scan it, or type the code on a keypad that shows Persian digits."""
from __future__ import annotations

from typing import Any

from kiosk.core.jalali import persian_digits
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiButton


class ReadyScreen(View):
    """Waiting for the next person; a hardware keyboard or keyboard-wedge scanner types into the code box."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("ready")
        super().__init__(bridge, name="ready", **kwargs)
        for key in ["7", "8", "9", "4", "5", "6", "1", "2", "3", "clear", "0", "back"]:
            button = BidiButton(size_hint_y=1, font_size="30sp")
            button.key = key
            button.bind(on_release=self._press)
            self.ids.keypad.add_widget(button)
        self._refresh()

    def _press(self, button: BidiButton) -> None:
        key = button.key
        if key == "clear":
            self.ids.code.text = ""
        elif key == "back":
            self.ids.code.text = self.ids.code.text[:-1]
        elif len(self.ids.code.text) < 14:
            self.ids.code.text += persian_digits(key) if self.bridge.lang == "fa" else key

    def check(self) -> None:
        """Ask the core about the code typed so far, then clear the box for the next person."""
        raw, self.ids.code.text = self.ids.code.text, ""
        if raw.strip():
            self.bridge.flow.code_entered(raw)

    def _refresh(self, *_: Any) -> None:
        if not hasattr(self, "ids") or "title" not in self.ids:
            return
        self.ids.title.raw = self.t("ready.title")
        self.ids.check.raw = self.t("ready.check")
        self.ids.escalate.raw = self.t("ready.escalate")
        self.ids.lock.raw = self.t("lock")
        self.ids.notice.raw = self.notice()
        for button in self.ids.keypad.children:
            key = getattr(button, "key", "")
            label = {"clear": self.t("ready.clear"), "back": self.t("ready.back")}.get(key, key)
            button.font_size = "30sp" if key not in ("clear", "back") else "20sp"
            button.raw = persian_digits(label) if self.bridge.lang == "fa" else label
