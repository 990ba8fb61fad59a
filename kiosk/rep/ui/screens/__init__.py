"""The console's thin views (one per screen, layout in kiosk/rep/ui/kv/<name>.kv) and what they share."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kivy.properties import ListProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.console import RepCase, RepCaseStatus
from kiosk.core.console_flow import ConsoleNotice
from kiosk.core.jalali import JalaliDate, format_en, format_fa, persian_digits
from kiosk.rep.ui.bridge import ConsoleBridge
from kiosk.ui.screens import BoundView, load_kv
from kiosk.core.jalali import TEHRAN
from kiosk.ui.widgets import BidiLabel

KV = Path(__file__).resolve().parent.parent / "kv"
Color = tuple[float, float, float, float]


class ConsoleView(BoundView):
    """A console screen: kiosk widgets and catalogue, console notices, right-to-left rows in Persian."""

    bridge: ConsoleBridge
    notices = "console.notice."

    def __init__(self, bridge: ConsoleBridge, name: str, **kwargs: Any) -> None:
        load_kv("common", KV)
        load_kv(name, KV)
        super().__init__(bridge, name=name, **kwargs)

    @property
    def fa(self) -> bool:
        """True on Persian screens."""
        return bool(self.bridge.lang == "fa")

    def digits(self, text: str | int) -> str:
        """Numbers as the screen's language writes them (codes typed in any digits stay as typed)."""
        return persian_digits(text) if self.fa else str(text)

    @staticmethod
    def now() -> dt.datetime:
        """The console's wall clock, which waiting times are counted against."""
        return dt.datetime.now(dt.timezone.utc)

    def notice(self) -> str:
        """Decided and gone notices name their case; the rest read as the catalogue says."""
        state = self.bridge.state
        case: RepCase | None = state.notice_case if state is not None else None
        if state is None or state.notice is None or case is None:
            return super().notice()
        if state.notice is ConsoleNotice.DECIDED:
            return self.t("console.notice.decided", case_id=case.case_id, ruling=self.ruling(case))
        if state.notice is ConsoleNotice.CASE_GONE and case.status is not RepCaseStatus.OPEN:
            return self.t(f"console.notice.case_gone.{case.status.value}", case_id=case.case_id)
        return super().notice()

    def ruling(self, case: RepCase) -> str:
        """What became of a closed case, in words."""
        if case.decision is not None:
            return self.t(f"console.ruling.{case.decision.ruling.value}")
        return self.t("console.ruling.cancelled")

    def kiosk(self, device: str, branch: str) -> str:
        """A kiosk as people at the branch name it: the short id its case ids start with, and the branch code."""
        return self.t("console.queue.kiosk", device=short_device(device), branch=self.digits(branch))

    def when(self, wall: str) -> str:
        """A console wall time (UTC ISO) as Tehran time; the Jalali date too unless it is today."""
        at = dt.datetime.fromisoformat(wall).astimezone(TEHRAN)
        time = self.digits(at.strftime("%H:%M"))
        if at.date() == dt.datetime.now(TEHRAN).date():
            return time
        day = JalaliDate.from_gregorian(at.date())
        return f"{format_fa(day)}، {time}" if self.fa else f"{format_en(day)}, {time}"

    def cells(self, row: BoxLayout, texts: list[tuple[str, float]], size: str = "16sp",
              colors: dict[int, Color] | None = None, bold: bool = False) -> None:
        """Fill a table row with (text, relative width) cells, the first rightmost in Persian; `colors` by index."""
        # Cells keep the height of their text (BidiLabel's rule) and sit in the middle of the row.
        laid_out = [ConsoleCell(raw=text, size_hint_x=width, pos_hint={"center_y": 0.5}, font_size=size,
                                padding=(4, 2), font_name="VazirmatnBold" if bold else "Vazirmatn",
                                align="right" if self.fa else "left") for text, width in texts]
        for index, color in (colors or {}).items():
            laid_out[index].color = color
        for cell in (reversed(laid_out) if self.fa else laid_out):
            row.add_widget(cell)

    def arrange(self, box: BoxLayout, order: list[Any]) -> None:
        """Lay `order` out left to right in English and right to left in Persian."""
        wanted = list(reversed(order)) if self.fa else list(order)
        if list(reversed(box.children)) != wanted:
            box.clear_widgets()
            for widget in wanted:
                box.add_widget(widget)


class ConsoleCell(BidiLabel):
    """A table cell: aligned to the side the screen's language starts from, whatever its text, so columns line up."""

    align = StringProperty("left")

    def _relayout(self, *_: Any) -> None:
        super()._relayout()
        self.halign = self.align
        if 0 < self.width <= 100:  # BidiLabel takes this width for "not laid out yet"; a short cell's text fits
            self.text_size = (max(self.width - 2 * self.padding_x, 1), None)


class ConsoleRow(BoxLayout):  # type: ignore[misc]
    """One line of a console table, on a light band."""

    shade = ListProperty([0.9, 0.92, 0.95, 1])


class ConsoleCaseRow(ButtonBehavior, ConsoleRow):  # type: ignore[misc]
    """A row of the queue; touching it opens the case."""

    case_id = ""


def short_device(device: str) -> str:
    """The six characters of a device id that its case ids carry (E-ABC123-0001)."""
    return device[:6].upper()


def tehran_now_text(lang: str) -> str:
    """Today's Jalali date and Tehran time for the status bar, as the kiosk shows it."""
    now = dt.datetime.now(TEHRAN)  # "today" is the election day in Tehran, whatever the device's zone
    day = JalaliDate.from_gregorian(now.date())
    # "، ساعت" keeps the bidi algorithm from running the year and the time together.
    if lang == "fa":
        return f"{format_fa(day)}، ساعت {persian_digits(now.strftime('%H:%M'))}"
    return f"{format_en(day)}, {now.strftime('%H:%M')}"
