"""The queue: open cases oldest first (touch one to open it), then the latest decisions."""
from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.clock import Clock
from kivy.properties import ListProperty

from kiosk.core.cases import Ruling
from kiosk.core.console import RepCase
from kiosk.core.console_flow import ConsoleNotice, minutes_waiting
from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.rep.ui.screens import ConsoleCaseRow, ConsoleRow, ConsoleView
from kiosk.ui.widgets import BidiLabel

_RED, _GREEN = [0.7, 0.1, 0.1, 1], [0.05, 0.4, 0.15, 1]
_RULING = {Ruling.APPROVE: (0.05, 0.4, 0.15, 1), Ruling.REJECT: (0.7, 0.1, 0.1, 1),
           Ruling.REFER: (0.55, 0.35, 0.05, 1)}
_WITHDRAWN = (0.35, 0.35, 0.35, 1)


class ConsoleQueueScreen(ConsoleView):
    """Waiting times count from when the console received each case; they are redrawn every half minute."""

    notice_color = ListProperty(_RED)

    def __init__(self, bridge: ConsoleBridge, **kwargs: Any) -> None:
        super().__init__(bridge, "queue", **kwargs)
        Clock.schedule_interval(lambda _dt: self._refresh() if self.manager and self.manager.current == self.name
                                else None, 30.0)

    def render(self) -> None:
        state = self.bridge.state
        self.ids.title.raw = self.t("console.queue.title", count=len(state.cases))
        self.ids.notice.raw = self.notice()
        self.notice_color = _GREEN if state.notice is ConsoleNotice.DECIDED else _RED
        self.ids.kiosks.raw = self.t("console.queue.kiosks")
        self.ids.lock.raw = self.t("console.lock")
        self.arrange(self.ids.buttons, [self.ids.kiosks, self.ids.lock])
        rows = self.ids.rows
        rows.clear_widgets()
        if not state.cases:
            rows.add_widget(BidiLabel(raw=self.t("console.queue.none"), font_size="20sp"))
        now = self.now()
        for case in state.cases:
            rows.add_widget(self._open_row(case, now))
        rows.add_widget(BidiLabel(raw=self.t("console.queue.recent"), font_name="VazirmatnBold", font_size="18sp"))
        if not state.recent:
            rows.add_widget(BidiLabel(raw=self.t("console.queue.recent_none"), font_size="16sp"))
        for case in state.recent:
            rows.add_widget(self._decided_row(case))

    def _open_row(self, case: RepCase, now: dt.datetime) -> ConsoleCaseRow:
        row = ConsoleCaseRow()
        row.case_id = case.case_id
        row.bind(on_release=lambda r: self.bridge.flow.open_case(r.case_id))
        form = case.form
        self.cells(row, [(case.case_id, 1.3), (self.kiosk(case.kiosk, case.branch), 1.5),
                         (self.t(f"console.reason.{form.reason.value}"), 1.9),
                         (f"{form.first_name} {form.last_name}", 1.4),
                         (self.t("console.queue.waiting", minutes=minutes_waiting(case, now)), 0.8)])
        return row

    def _decided_row(self, case: RepCase) -> ConsoleRow:
        row = ConsoleRow()
        decided = case.decision
        color = _RULING[decided.ruling] if decided is not None else _WITHDRAWN
        form = case.form
        self.cells(row, [(case.case_id, 1.3), (self.kiosk(case.kiosk, case.branch), 1.5),
                         (f"{form.first_name} {form.last_name}", 1.7), (self.ruling(case), 1.5),
                         (self.when(decided.decided_at) if decided is not None else "", 0.8)], colors={3: color})
        return row
