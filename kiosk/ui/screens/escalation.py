"""The case for the governor's representative (the form itself is not built yet: it says so)."""
from __future__ import annotations

from typing import Any

from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv


class EscalationScreen(View):
    """Placeholder screen that tells staff the case form is not in this version."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("escalation")
        super().__init__(bridge, name="escalation", **kwargs)

    def _refresh(self, *_: Any) -> None:
        if not hasattr(self, "ids") or "title" not in self.ids:
            return
        self.ids.title.raw = self.t("escalation.title")
        self.ids.pending.raw = self.t("escalation.pending")
        self.ids.back.raw = self.t("verdict.cancel")
