"""The case form for the governor's representative: names, Jalali birth date, birth-certificate no., note."""
from __future__ import annotations

from typing import Any

from kiosk.core.jalali import MONTHS_EN, MONTHS_FA, JalaliDate, persian_digits
from kiosk.core.national_code import ascii_digits_only
from kiosk.core.text_limits import MAX_NAME, MAX_NOTE
from kiosk.text.persian import shape_line
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.limits import limit_box
from kiosk.ui.screens import View, load_kv

FIELDS = ("first", "last", "father", "certificate", "note")
# The three name boxes sit in one row, read right to left in Persian and left to right in
# English: the rightmost box is the first name in Persian, the leftmost in English.
_NAME_BOXES = {"fa": {"first_name": "first", "last_name": "last", "father_name": "father"},
               "en": {"first_name": "father", "last_name": "last", "father_name": "first"}}
_OTHER_HINTS = {"certificate": "escalation.birth_certificate", "note": "escalation.note", "year": "escalation.year"}


class EscalationScreen(View):
    """Names, birth date and note typed in boxes that draw Persian as it is read (kiosk/ui/rtl_input.py)."""

    def __init__(self, bridge: FlowBridge, **kwargs: Any) -> None:
        load_kv("escalation")
        super().__init__(bridge, name="escalation", **kwargs)
        for box in ("first", "last", "father"):
            limit_box(self.ids[box], MAX_NAME)
        limit_box(self.ids.year, 4)
        limit_box(self.ids.certificate, 10)         # a birth-certificate number: ten digits at most
        limit_box(self.ids.note, MAX_NOTE, newlines=True)   # the case message carries the note's line breaks
        self._dates()

    def _dates(self) -> None:
        """Jalali birth date: the year typed, the month by name and the day picked, in the screen's digits."""
        fa = self.bridge.lang == "fa"
        digits = persian_digits if fa else str
        months = MONTHS_FA if fa else MONTHS_EN
        self.ids.month.values = [shape_line(m, True) if fa else m for m in months]
        self.ids.day.values = [digits(d) for d in range(1, 32)]
        for part in ("month", "day"):  # an unpicked part shows what it is for
            spinner = self.ids[part]
            if spinner.text not in spinner.values:
                spinner.text = shape_line(self.t(f"escalation.{part}"), fa)

    def _picked_date(self) -> JalaliDate | None:
        try:
            year = int(ascii_digits_only(self.ids.year.text.strip()))
            month = list(self.ids.month.values).index(self.ids.month.text) + 1
            day = int(ascii_digits_only(self.ids.day.text))
            return JalaliDate(year, month, day)
        except ValueError:
            return None  # not picked yet, or a day the month does not have

    def _box(self, field: str) -> Any:
        """The text box that holds `field` (first_name, last_name, father_name) in this language."""
        return self.ids[_NAME_BOXES[self.bridge.lang][field]]

    def submit(self) -> None:
        """Hand the form to the core; it is kept only if every field is right."""
        self.bridge.flow.submit_case(self._box("first_name").text, self._box("last_name").text,
                                     self._box("father_name").text, self._picked_date(),
                                     self.ids.certificate.text, self.ids.note.text)

    def on_leave(self, *_: Any) -> None:
        """A new person gets an empty form."""
        for name in FIELDS:
            self.ids[name].text = ""
        for name in ("year", "month", "day"):
            self.ids[name].text = ""

    def render(self) -> None:
        state = self.bridge.state
        reason = self.t(f"escalation.reason.{state.case_reason.value}") if state is not None else ""
        self.ids.title.raw = f"{self.t('escalation.title')} — {reason}"
        hints = {box: f"escalation.{field}" for field, box in _NAME_BOXES[self.bridge.lang].items()}
        for box, key in {**hints, **_OTHER_HINTS}.items():
            self.ids[box].hint_text = self.t(key)     # the box shapes it
        self.ids.birth_label.raw = self.t("escalation.birth_date")
        self.ids.submit.raw = self.t("escalation.submit")
        self.ids.back.raw = self.t("verdict.cancel")
        if state is not None and state.form_problems:
            separator = "، " if self.bridge.lang == "fa" else ", "
            names = separator.join(self.t(f"escalation.{p.value}") for p in state.form_problems)
            self.ids.notice.raw = self.t("notice.form_incomplete", detail=names)
        else:
            self.ids.notice.raw = self.notice()
        self._dates()

