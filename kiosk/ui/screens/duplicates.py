"""Double check-ins: a voter checked in on two kiosks while the branch LAN was split, each to be acknowledged."""
from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout

from kiosk.core.branch import Duplicate
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.screens.verdict import ledger_time
from kiosk.ui.widgets import BidiButton, BidiLabel


class DuplicatesScreen(View):
    """One row per double check-in: its check-ins and when it was found; no voter data exists to show."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("duplicates")
        super().__init__(bridge, name="duplicates", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("duplicates.title")
        self.ids.explain.raw = self.t("duplicates.explain")
        self.ids.back.raw = self.t("verdict.cancel")
        self.ids.notice.raw = self.notice()
        rows = self.ids.rows
        rows.clear_widgets()
        duplicates = state.duplicates if state is not None else ()
        if not duplicates:
            rows.add_widget(BidiLabel(raw=self.t("duplicates.none")))
        for index, duplicate in enumerate(duplicates):
            rows.add_widget(self._row(index, duplicate))

    def describe(self, duplicate: Duplicate) -> str:
        """Each check-in as staff can find it on its kiosk (device and record no.), then when this kiosk saw it."""
        lines = []
        for ref in duplicate.check_ins:
            device, _, seq = ref.rpartition(":")
            # The first six characters of a device id, as case ids carry them (E-AB12CD-0001).
            lines.append(self.t("duplicates.check_in", device=device[:6].upper(),
                                seq=int(seq) if seq.isdigit() else seq))
        lines.append(self.t("duplicates.found", at=ledger_time(duplicate.found, self.bridge.lang)))
        return "\n".join(lines)

    def _row(self, index: int, duplicate: Duplicate) -> DuplicateRow:
        row = DuplicateRow()
        label = BidiLabel(raw=self.describe(duplicate), font_size="16sp", pos_hint={"center_y": 0.5})
        button = BidiButton(raw=self.t("duplicates.acknowledge"), size_hint_x=None, width=150, height=52,
                            font_size="18sp", background_color=(0.7, 0.12, 0.12, 1),
                            pos_hint={"center_y": 0.5})
        button.bind(on_release=lambda _b: self.bridge.flow.acknowledge_duplicate(index))
        button.index = index
        # The button sits at the line's end: on the left in Persian, on the right in English.
        for part in ([button, label] if self.bridge.lang == "fa" else [label, button]):
            row.add_widget(part)
        label.bind(height=lambda _w, h: setattr(row, "height", max(h, 52) + 8))
        row.height = max(label.height, 52) + 8
        return row


class DuplicateRow(BoxLayout):  # type: ignore[misc]
    """One double check-in on a light band, so the check-ins of one voter read as one block."""
