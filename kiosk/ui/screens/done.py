"""Done: shown only after the check-in is durable; who was recorded, under which number, and when it goes on.

The number is the check-in's record on this device (what an undo or a slip names), not a count: the
count of today's check-ins is in the status bar. A countdown says when the screen goes back to Ready;
"next person" goes at once.
"""
from __future__ import annotations

import math
from typing import Any

from kivy.clock import Clock

from kiosk.ui.bridge import FlowBridge
from kiosk.ui.screens import View, load_kv


class DoneScreen(View):
    """The confirmation staff wait for before letting the person go to the ballot box."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("done")
        self._ticking: Any = None
        super().__init__(bridge, name="done", **kwargs)

    def on_enter(self, *_: Any) -> None:
        self._ticking = Clock.schedule_interval(lambda _dt: self._countdown(), 0.25)

    def on_leave(self, *_: Any) -> None:
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("done.title")
        receipt = state.receipt if state is not None else None
        record = state.outcome.record if state is not None and state.outcome is not None else None
        self.ids.name.raw = self.t("field.name", first=record.first_name, last=record.last_name) if record else ""
        self.ids.seq.raw = self.t("done.seq", seq=receipt.seq) if receipt is not None else ""
        self.ids.next.raw = self.t("done.next")
        self._countdown()

    def _countdown(self) -> None:
        left = math.ceil(self.bridge.flow.done_left())
        self.ids.countdown.raw = self.t("done.countdown", seconds=left) if left > 0 else ""
