"""Help on the kiosk: what each verdict means, what to do when the reader, printer, link or disk fails,
and how to call the technician. Words only from the catalogue, in the screen's language."""
from __future__ import annotations

from typing import Any

from kiosk.core.eligibility import Verdict
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiLabel

FAULTS = ("reader", "printer", "link", "rep", "disk")


class HelpScreen(View):
    """Read at the table, under pressure: one line per verdict, one per fault, then whom to call."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("help")
        super().__init__(bridge, name="help", **kwargs)

    def render(self) -> None:
        self.ids.title.raw = self.t("help.title")
        self.ids.back.raw = self.t("verdict.cancel")
        rows = self.ids.rows
        rows.clear_widgets()
        rows.add_widget(BidiLabel(raw=self.t("help.verdicts"), font_name="VazirmatnBold", font_size="18sp"))
        for verdict in Verdict:
            rows.add_widget(BidiLabel(raw=f"{self.t(f'verdict.{verdict.value}')}: {self.t(f'help.verdict.{verdict.value}')}",
                                      font_size="16sp"))
        rows.add_widget(BidiLabel(raw=self.t("help.faults"), font_name="VazirmatnBold", font_size="18sp"))
        for fault in FAULTS:
            rows.add_widget(BidiLabel(raw=self.t(f"help.fault.{fault}"), font_size="16sp"))
        rows.add_widget(BidiLabel(raw=self.t("help.technician"), font_name="VazirmatnBold", font_size="17sp"))
