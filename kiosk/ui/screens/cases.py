"""This kiosk's cases for the representative, newest marked, each with its status."""
from __future__ import annotations

from typing import Any

from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiLabel


class CasesScreen(View):
    """Until the network delivery exists every case shows "waiting for the representative"."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("cases")
        super().__init__(bridge, name="cases", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("cases.title")
        self.ids.back.raw = self.t("verdict.cancel")
        rows = self.ids.rows
        rows.clear_widgets()
        cases = state.cases if state is not None else ()
        if not cases:
            rows.add_widget(BidiLabel(raw=self.t("cases.none")))
        for case in reversed(cases):
            label = BidiLabel(raw=self.t("cases.row", case_id=case.case_id, first=case.form.first_name,
                                         last=case.form.last_name), font_size="18sp")
            if case.case_id == state.last_case:
                label.color = (0.05, 0.4, 0.15, 1)
            rows.add_widget(label)
