"""Widgets that show Persian correctly: wrapped on shaped text, each line reordered on its own."""
from __future__ import annotations

from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.core.text import LabelBase
from kivy.properties import StringProperty
from kivy.uix.button import Button
from kivy.uix.label import Label

from kiosk import fonts
from kiosk.text.persian import is_rtl, visual_lines

FONT = "Vazirmatn"
FONT_BOLD = "VazirmatnBold"
LabelBase.register(FONT, str(fonts.REGULAR))
LabelBase.register(FONT_BOLD, str(fonts.BOLD))


def _measure(font_name: str, font_size: float) -> Any:
    def measure(text: str) -> int:
        label = CoreLabel(font_name=font_name, font_size=font_size)
        return int(label.get_extents(text)[0])
    return measure


class BidiLabel(Label):  # type: ignore[misc]
    """A label given logical text in `raw`; it wraps, shapes and reorders it to fit its width."""

    raw = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("font_name", FONT)
        super().__init__(**kwargs)
        self.bind(raw=self._relayout, width=self._relayout, font_size=self._relayout, font_name=self._relayout)
        self._relayout()

    def _relayout(self, *_: Any) -> None:
        rtl = is_rtl(self.raw)
        width = max(int(self.width - 2 * self.padding_x), 40) if self.width > 100 else 10_000
        lines = visual_lines(self.raw, width, _measure(self.font_name, self.font_size)) if self.raw else []
        self.halign = "right" if rtl else "left"
        self.text = "\n".join(lines)
        self.text_size = (self.width - 2 * self.padding_x if self.width > 100 else None, None)


class BidiButton(Button):  # type: ignore[misc]
    """A thumb-sized button whose caption may be Persian."""

    raw = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("font_name", FONT_BOLD)
        super().__init__(**kwargs)
        self.bind(raw=self._relayout, width=self._relayout, font_size=self._relayout)
        self._relayout()

    def _relayout(self, *_: Any) -> None:
        width = max(int(self.width - 16), 40) if self.width > 100 else 10_000
        lines = visual_lines(self.raw, width, _measure(self.font_name, self.font_size)) if self.raw else []
        self.text = "\n".join(lines)
        self.halign = "center"
        self.text_size = (self.width - 16 if self.width > 100 else None, None)
