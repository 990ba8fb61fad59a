"""Large line-drawn icons for the verdicts, drawn on the canvas: no image files, no emoji font to depend on.

Each icon is a list of strokes in a unit square (0..1, y up), scaled to the widget; one Kivy Line per stroke.
"""
from __future__ import annotations

import math
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import ListProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk.ui.widgets import FONT_BOLD

Stroke = tuple[float, ...]          # x0, y0, x1, y1, ... in the unit square
Circle = tuple[float, float, float]  # centre x, centre y, radius


# kind -> (polylines, circles, caption inside)
SHAPES: dict[str, tuple[list[Stroke], list[Circle], str]] = {
    "check": ([(0.18, 0.52, 0.42, 0.26, 0.84, 0.76)], [], ""),
    # a ballot going into a box: this person's vote is already in
    "ballot_box": ([(0.12, 0.12, 0.88, 0.12, 0.88, 0.52, 0.12, 0.52, 0.12, 0.12), (0.34, 0.52, 0.66, 0.52),
                    (0.38, 0.44, 0.38, 0.88, 0.62, 0.88, 0.62, 0.44)], [], ""),
    "eighteen": ([], [(0.5, 0.5, 0.42)], "18"),
    # a mourning ribbon
    "ribbon": ([(0.30, 0.10, 0.60, 0.66, 0.58, 0.82, 0.50, 0.90, 0.42, 0.82, 0.40, 0.66, 0.70, 0.10)], [], ""),
    # a no-entry sign: barred
    "no_entry": ([(0.5 - 0.42 * math.cos(math.pi / 4), 0.5 + 0.42 * math.sin(math.pi / 4),
                   0.5 + 0.42 * math.cos(math.pi / 4), 0.5 - 0.42 * math.sin(math.pi / 4))],
                 [(0.5, 0.5, 0.42)], ""),
    "magnifier": ([(0.56, 0.44, 0.88, 0.12)], [(0.40, 0.60, 0.28)], ""),
    # a code box with a crossed digit
    "wrong_digit": ([(0.08, 0.28, 0.92, 0.28, 0.92, 0.72, 0.08, 0.72, 0.08, 0.28),
                     (0.56, 0.38, 0.80, 0.62), (0.56, 0.62, 0.80, 0.38)], [], "12"),
    # a card, its chip, and a cross over its other half
    "card_warning": ([(0.06, 0.20, 0.94, 0.20, 0.94, 0.80, 0.06, 0.80, 0.06, 0.20),
                      (0.16, 0.42, 0.36, 0.42, 0.36, 0.60, 0.16, 0.60, 0.16, 0.42),
                      (0.54, 0.34, 0.82, 0.66), (0.54, 0.66, 0.82, 0.34)], [], ""),
}


class VerdictIcon(Widget):  # type: ignore[misc]
    """One of SHAPES, drawn in `ink` in the largest square that fits the widget."""

    kind = StringProperty("check")
    ink = ListProperty([1, 1, 1, 1])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(kind=self._draw, ink=self._draw, pos=self._draw, size=self._draw)
        self._draw()

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        strokes, circles, caption = SHAPES.get(self.kind, ([], [], ""))
        side = min(self.width, self.height)
        left, bottom = self.center_x - side / 2, self.center_y - side / 2
        width = max(side * 0.07, 2)
        with self.canvas:
            Color(*self.ink)
            for stroke in strokes:
                points = [left + v * side if i % 2 == 0 else bottom + v * side for i, v in enumerate(stroke)]
                Line(points=points, width=width, cap="round", joint="round")
            for cx, cy, r in circles:
                Line(circle=(left + cx * side, bottom + cy * side, r * side), width=width)
            if caption:
                self._caption(caption, left, bottom, side)

    def _caption(self, caption: str, left: float, bottom: float, side: float) -> None:
        text = CoreLabel(text=caption, font_name=FONT_BOLD, font_size=side * 0.38, color=list(self.ink))
        text.refresh()
        texture = text.texture
        box_left = self.kind == "wrong_digit"   # the digits sit left of the cross
        cx = left + side * (0.30 if box_left else 0.5)
        Rectangle(texture=texture, size=texture.size,
                  pos=(cx - texture.width / 2, bottom + side * 0.5 - texture.height / 2))
