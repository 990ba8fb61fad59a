"""The branch head's summary of the day: check-ins for the whole branch and this kiosk, cases, check-ins per hour."""
from __future__ import annotations

from typing import Any

from kiosk.core.closing import OUTCOMES, DaySummary, day_hours
from kiosk.core.jalali import format_en, format_fa, persian_digits
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.confirm import ask
from kiosk.ui.screens import View, load_kv
from kiosk.ui.widgets import BidiLabel, CentredLabel

_CELL = (4, 0)  # a table cell's padding: rows close together, so the day fits the 7" screen


class SummaryScreen(View):
    """Counts only, for the close-of-polls minutes: no national code or name is on this screen or its receipt."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("summary")
        super().__init__(bridge, name="summary", **kwargs)

    def number(self, n: int) -> str:
        """A count in the screen's digits."""
        return persian_digits(n) if self.bridge.lang == "fa" else str(n)

    def ask_print(self) -> None:
        """Printing the summary does not end voting: the question says so before the job starts."""
        ask(self, self.t("confirm.print"), self.t("confirm.print.do"), self.bridge.flow.print_summary, danger=False)

    def render(self) -> None:
        state = self.bridge.state
        summary: DaySummary | None = state.summary if state is not None else None
        fa = self.bridge.lang == "fa"
        self._reading_order(fa)
        self.ids.notice.raw = self.notice()
        self.ids.print_summary.raw = self.t("summary.print")
        self.ids.print_summary.disabled = bool(state is not None and state.printing)
        self.ids.back.raw = self.t("verdict.cancel")
        self.ids.hours_title.raw = self.t("summary.hours")
        for grid in (self.ids.totals, self.ids.hours_head, self.ids.hours):
            grid.clear_widgets()
        if summary is None:
            self.ids.title.raw = self.ids.sources.raw = self.ids.cases_title.raw = self.ids.cases.raw = ""
            return
        at = summary.at.strftime("%H:%M")
        self.ids.title.raw = self.t("summary.title", day=format_fa(summary.day) if fa else format_en(summary.day),
                                    at=persian_digits(at) if fa else at)
        self._totals(summary)
        others = summary.other_kiosks
        self.ids.sources.raw = self.t("summary.others", count=others) if others > 1 else \
            self.t("summary.other") if others else self.t("summary.alone")
        cases = summary.kiosk.escalations
        self.ids.cases_title.raw = self.t("summary.cases", count=sum(cases.values()))
        # One line per outcome, zeros included: the minutes have a box for each.
        self.ids.cases.raw = "\n".join(self.t(f"summary.outcome.{outcome}", count=cases.get(outcome, 0))
                                       for outcome in OUTCOMES)
        self._hours(summary)

    def _reading_order(self, fa: bool) -> None:
        """Check-ins first on the reading side: on the right in Persian, on the left in English."""
        body = self.ids.body
        wanted = [self.ids.figures, self.ids.cases_box, self.ids.hours_box]
        if fa:
            wanted.reverse()
        if list(reversed(body.children)) != wanted:
            body.clear_widgets()
            for part in wanted:
                body.add_widget(part)

    def _row(self, grid: Any, cells: list[BidiLabel]) -> None:
        """Add a table row, mirrored in Persian so that its first cell is on the right."""
        for cell in reversed(cells) if self.bridge.lang == "fa" else cells:
            grid.add_widget(cell)

    def _totals(self, summary: DaySummary) -> None:
        grid = self.ids.totals
        self._row(grid, [BidiLabel(raw="", size_hint_x=1.6),
                         *(CentredLabel(raw=self.t(key), font_name="VazirmatnBold", font_size="14sp", padding=_CELL)
                           for key in ("summary.branch", "summary.kiosk"))])
        for key, branch, kiosk in (("summary.check_ins", summary.branch.check_ins, summary.kiosk.check_ins),
                                   ("summary.undone", summary.branch.undone, summary.kiosk.undone)):
            self._row(grid, [BidiLabel(raw=self.t(key), font_size="15sp", size_hint_x=1.6, padding=_CELL),
                             *(CentredLabel(raw=self.number(n), font_name="VazirmatnBold", font_size="22sp",
                                            padding=_CELL) for n in (branch, kiosk))])

    def _hours(self, summary: DaySummary) -> None:
        self._row(self.ids.hours_head, [CentredLabel(raw=self.t(key), font_size="13sp", padding=_CELL)
                                        for key in ("summary.hour", "summary.hour_branch", "summary.kiosk")])
        rows = day_hours(summary)
        self.ids.hours.cols = 3 if rows else 1
        if not rows:
            self.ids.hours.add_widget(BidiLabel(raw=self.t("summary.no_hours"), font_size="14sp"))
            return
        for hour, branch, kiosk in rows:
            cells = (self._hour(hour), self.number(branch), self.number(kiosk))
            self._row(self.ids.hours, [CentredLabel(raw=text, font_size="15sp", padding=_CELL) for text in cells])

    def _hour(self, hour: int) -> str:
        """An hour of the day as a clock reads it: 08:00, or ۰۸:۰۰ in Persian."""
        text = f"{hour:02d}:00"
        return persian_digits(text) if self.bridge.lang == "fa" else text
