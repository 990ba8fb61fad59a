"""Widgets that show Persian correctly: wrapped on shaped text, each line reordered on its own."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.core.text import LabelBase
from kivy.properties import StringProperty
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk import fonts
from kiosk.core.jalali import persian_digits
from kiosk.text.persian import is_rtl, visual_lines

FONT = "Vazirmatn"
FONT_BOLD = "VazirmatnBold"
LabelBase.register(FONT, str(fonts.REGULAR))
LabelBase.register(FONT_BOLD, str(fonts.BOLD))


def _measure(font_name: str, font_size: float) -> Any:
    # One core label per layout pass: wrapping measures many candidate lines with the same font.
    label = CoreLabel(font_name=font_name, font_size=font_size)

    def measure(text: str) -> int:
        return int(label.get_extents(text)[0])
    return measure


def _fit(widget: Any, inset: float, narrow: bool = False) -> None:
    """Wrap `widget.raw` to the widget's width less `inset`, shaped and reordered line by line.

    Kivy draws the padding inside `text_size`, so the lines are measured against what is left of it:
    a line Kivy found too wide would be wrapped again by Kivy, in visual order, and read bottom to top.
    (`padding_x` is deprecated and stays 0 when `padding` is set.)
    A `narrow` widget (a table cell) may really be 100 px wide or less, so it is wrapped at any width.
    """
    laid_out = narrow or widget.width > 100  # before the first layout pass Kivy reports a placeholder width
    left, _, right, _ = widget.padding
    width = max(int(widget.width - inset - left - right), 40) if laid_out else 10_000
    lines = visual_lines(widget.raw, width, _measure(widget.font_name, widget.font_size)) if widget.raw else []
    widget.text = "\n".join(lines)
    widget.text_size = (widget.width - inset if laid_out else None, None)


class BidiLabel(Label):  # type: ignore[misc]
    """A label given logical text in `raw`; it wraps, shapes and reorders it to fit its width."""

    raw = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("font_name", FONT)
        super().__init__(**kwargs)
        self.bind(raw=self._relayout, width=self._relayout, font_size=self._relayout, font_name=self._relayout,
                  padding=self._relayout)
        self._relayout()

    def _relayout(self, *_: Any) -> None:
        self.halign = "right" if is_rtl(self.raw) else "left"
        _fit(self, 0)


class BidiButton(Button):  # type: ignore[misc]
    """A thumb-sized button whose caption may be Persian."""

    raw = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("font_name", FONT_BOLD)
        super().__init__(**kwargs)
        self.bind(raw=self._relayout, width=self._relayout, font_size=self._relayout)
        self._relayout()

    def _relayout(self, *_: Any) -> None:
        self.halign = "center"
        _fit(self, 16)


class DigitPad(GridLayout):  # type: ignore[misc]
    """A 3×4 keypad that types into a TextInput, showing Persian digits on Persian screens."""

    KEYS = ("7", "8", "9", "4", "5", "6", "1", "2", "3", "clear", "0", "back")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cols", 3)
        kwargs.setdefault("spacing", 6)
        super().__init__(**kwargs)
        self.target: Any = None
        self.max_length = 14
        self.persian = True
        self.labels = {"clear": "C", "back": "<"}
        for key in self.KEYS:
            button = BidiButton(size_hint_y=1, font_size="30sp" if key.isdigit() else "20sp")
            button.key = key
            button.bind(on_release=self._press)
            self.add_widget(button)

    def relabel(self, persian: bool, clear: str, back: str) -> None:
        """Captions for the current language."""
        self.persian, self.labels = persian, {"clear": clear, "back": back}
        for button in self.children:
            label = self.labels.get(button.key, button.key)
            button.raw = persian_digits(label) if persian else label

    def _press(self, button: Any) -> None:
        if self.target is None:
            return
        key = button.key
        if key == "clear":
            self.target.text = ""
        elif key == "back":
            self.target.text = self.target.text[:-1]
        elif len(self.target.text) < self.max_length:
            self.target.text += persian_digits(key) if self.persian else key


def in_reading_order(row: Any, parts: Sequence[Any], rtl: bool) -> None:
    """Lay `parts` out in `row` (a horizontal box) so the first is read first: at the right in Persian."""
    wanted = list(parts)[::-1] if rtl else list(parts)
    if list(reversed(row.children)) != wanted:
        row.clear_widgets()
        for part in wanted:
            row.add_widget(part)


class SimulatorButton(BidiButton):
    """A button of the simulation's panel (a card in, the reader out): on a laptop's demo, never on the appliance."""


def add_dev_buttons(panel: Any, buttons: list[tuple[str, Any]]) -> None:
    """The simulation's developer panel: one purple button per (label, action)."""
    for label, action in buttons:
        button = SimulatorButton(raw=label, font_size="14sp", size_hint_y=1, background_color=(0.35, 0.2, 0.45, 1))
        button.bind(on_release=lambda _b, act=action: act())
        panel.add_widget(button)


class CentredLabel(BidiLabel):
    """A BidiLabel centred in its box whatever the text's direction: a table cell, which may be narrow."""

    def _relayout(self, *_: Any) -> None:
        self.halign = "center"
        _fit(self, 0, narrow=True)
