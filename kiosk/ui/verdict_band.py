"""The verdict's band: its colour, its icon at the reading side and its words at 40 px, read at arm's length."""
from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.eligibility import Verdict
from kiosk.ui.icons import VerdictIcon
from kiosk.ui.verdict_look import LOOKS
from kiosk.ui.widgets import FONT_BOLD, BidiLabel

WORDS_SP = 40          # the verdict's words: the floor for arm's length
ICON_DP = 84


class VerdictBand(BoxLayout):  # type: ignore[misc]
    """Shows one verdict; empty (height 0) until `show` is called, and again after `hide`."""

    icon_dp = NumericProperty(ICON_DP)      # smaller where the band shares the screen with a keypad

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "horizontal")
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("padding", (dp(10), dp(6)))
        kwargs.setdefault("spacing", dp(12))
        super().__init__(**kwargs)
        self.verdict: Verdict | None = None
        self.icon = VerdictIcon(size_hint=(None, None), size=(dp(ICON_DP), dp(ICON_DP)), pos_hint={"center_y": 0.5})
        self.words = BidiLabel(font_name=FONT_BOLD, font_size=f"{WORDS_SP}sp", pos_hint={"center_y": 0.5})
        with self.canvas.before:
            self._colour = Color(0, 0, 0, 0)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._place, size=self._place)
        self.words.bind(height=self._fit_height)
        self.bind(icon_dp=self._fit_height)
        self.hide()

    def show(self, verdict: Verdict, words: str, rtl: bool) -> None:
        """Draw `verdict` with `words`; the icon goes where the eye starts reading (right in Persian)."""
        look = LOOKS[verdict]
        self.verdict = verdict
        self._colour.rgba = look.band
        self.icon.kind, self.icon.ink = look.icon, list(look.ink)
        self.words.color = list(look.ink)
        self.clear_widgets()
        for child in ((self.words, self.icon) if rtl else (self.icon, self.words)):
            self.add_widget(child)
        self.opacity = 1
        self.words.raw = words
        self._fit_height()

    def hide(self) -> None:
        self.verdict = None
        self.clear_widgets()
        self.words.raw = ""
        self.opacity = 0
        self.height = 0

    def _fit_height(self, *_: Any) -> None:
        if self.verdict is not None:
            self.icon.size = (dp(self.icon_dp), dp(self.icon_dp))
            self.height = max(dp(self.icon_dp), self.words.height) + dp(12)

    def _place(self, *_: Any) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size
