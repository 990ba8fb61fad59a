"""Done: shown only after the check-in is durable; returns to Ready on its own (the core's tick)."""
from __future__ import annotations

from typing import Any

from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv


class DoneScreen(View):
    """The confirmation staff wait for before letting the person go to the ballot box."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("done")
        super().__init__(bridge, name="done", **kwargs)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("done.title")
        receipt = state.receipt if state is not None else None
        self.ids.seq.raw = self.t("done.seq", seq=receipt.seq) if receipt is not None else ""
