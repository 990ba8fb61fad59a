"""The branch head's staff screen: the accounts of this kiosk, and adding a poll worker with a PIN."""
from __future__ import annotations

from typing import Any

from kiosk.core.text_limits import MAX_STAFF_NAME
from kiosk.text.persian import is_rtl, shape_line
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.limits import PIN_MAX, limit_box, limit_pin_box
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiLabel, in_reading_order


class StaffScreen(View):
    """Head only: the core refuses anyone else before this screen shows."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("staff")
        super().__init__(bridge, name="staff", **kwargs)
        self.ids.keypad.target = self.ids.pin
        self.ids.keypad.max_length = PIN_MAX
        limit_box(self.ids.name, MAX_STAFF_NAME)
        limit_pin_box(self.ids.pin)

    def add(self) -> None:
        """Add the worker typed in; the PIN box is cleared whatever happens."""
        name, pin = self.ids.name.text, self.ids.pin.text
        self.ids.pin.text = ""
        self.bridge.flow.add_worker(name, pin)
        if self.bridge.flow.state.notice is not None and self.bridge.flow.state.notice.value == "worker_added":
            self.ids.name.text = ""

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("staff.title")
        self.ids.summary.raw = self.t("staff.summary")
        # The title on the reading side, the button at the line's end: on the left in Persian.
        in_reading_order(self.ids.heading, (self.ids.title, self.ids.summary), self.bridge.lang == "fa")
        self.ids.add.raw = self.t("staff.add")
        self.ids.back.raw = self.t("verdict.cancel")
        self.ids.name.hint_text = self.t("staff.name")
        pin_hint = self.t("sign_in.pin")
        self.ids.pin.hint_text = shape_line(pin_hint, is_rtl(pin_hint))
        self.ids.notice.raw = self.notice()
        self.ids.keypad.relabel(self.bridge.lang == "fa", self.t("ready.clear"), self.t("ready.back"))
        rows = self.ids.rows
        rows.clear_widgets()
        for _, name, role in (state.accounts if state is not None else ()):
            rows.add_widget(BidiLabel(raw=self.t("staff.row", name=name, role=self.t(f"staff.role.{role.value}")),
                                      font_size="18sp"))
