"""A one-line text box for Persian: the logical text as typed, drawn joined and right to left as it is typed.

Kivy's TextInput draws code points left to right, unjoined (Kivy issue 8615), so typed Persian read
backwards and only a preview line under the box was right. This box keeps `text` in logical order (what
the program reads and stores) and draws `kiosk.text.editing.Drawn` of it, with a caret placed from the
line's bidi levels. Keys come from a keyboard (FocusBehavior's) or from the on-screen PersianKeyboard.
`input_filter` and `selection_text` are kept so kiosk/ui/limits.py limits it as it does a TextInput.
"""
from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import FocusBehavior
from kivy.uix.widget import Widget

from kiosk.text.editing import Drawn, Edit
from kiosk.ui.keyboard import shared_keyboard
from kiosk.text.persian import is_rtl, shape_line
from kiosk.ui.widgets import FONT

_KEYS = {8: "backspace", 127: "delete", 276: "left", 275: "right", 278: "home", 279: "end", 13: "enter", 271: "enter"}


class RtlTextInput(FocusBehavior, Widget):  # type: ignore[misc]
    """One line of text; Persian or English, drawn as read, with a working caret."""

    text = StringProperty("")
    hint_text = StringProperty("")
    cursor = NumericProperty(0)
    font_name = StringProperty(FONT)
    font_size = NumericProperty(dp(18))
    input_filter = ObjectProperty(None, allownone=True)
    selection_text = StringProperty("")      # no selection in this box; kept for kiosk/ui/limits.py
    multiline = BooleanProperty(False)
    write_tab = BooleanProperty(False)
    keyboard_panel = ObjectProperty(None, allownone=True)   # the on-screen keyboard; None: the shared one
    keyboard_layout = StringProperty("fa")                  # the keys it opens with: "fa", "digits" or "latin"

    __events__ = ("on_text_validate",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._blink = True
        self._blinker: Any = None
        self.drawn_text = ""        # the line as drawn (visual order, joined forms): what a reader sees
        # Drawn again on the next frame too: a layout pass may move the box after the change that called us.
        self._redraw_soon = Clock.create_trigger(self._redraw)
        self.bind(text=self._text_changed, cursor=self._redraw, pos=self._redraw_soon, size=self._redraw_soon,
                  focus=self._focus_changed, hint_text=self._redraw, font_size=self._redraw, font_name=self._redraw)
        self._redraw()

    # -- editing -----------------------------------------------------------------------
    def insert_text(self, typed: str, from_undo: bool = False) -> None:
        """Type `typed` at the caret, through the box's filter (its length limit)."""
        if self.input_filter is not None:
            typed = self.input_filter(typed, from_undo)
        self._apply(self._edit().insert(typed))

    def do_backspace(self, from_undo: bool = False, mode: str = "bkspc") -> None:
        self._apply(self._edit().backspace())

    def do_delete(self) -> None:
        self._apply(self._edit().delete())

    def key(self, name: str) -> None:
        """A named key: backspace, delete, left, right, home, end, enter."""
        edit = self._edit()
        match name:
            case "backspace":
                self._apply(edit.backspace())
            case "delete":
                self._apply(edit.delete())
            case "left" | "right":
                self._apply(edit.step(visual_right=name == "right"))
            case "home":
                self._apply(edit.to(0))
            case "end":
                self._apply(edit.to(len(edit.text)))
            case "enter":
                self.dispatch("on_text_validate")

    def on_text_validate(self) -> None:
        """Enter on a keyboard (or the on-screen keyboard's Enter)."""

    def _edit(self) -> Edit:
        return Edit(self.text, min(int(self.cursor), len(self.text)))

    def _apply(self, edit: Edit) -> None:
        self.text, self.cursor = edit.text, edit.cursor
        self._blink = True
        self._redraw()

    def _text_changed(self, *_: Any) -> None:
        if self.cursor > len(self.text):     # text set by the program (a picked reason, a cleared box): caret at the end
            self.cursor = len(self.text)
        self._redraw()

    # -- keyboard and touch ------------------------------------------------------------
    def keyboard_on_textinput(self, _window: Any, text: str) -> None:
        self.insert_text(text)

    def keyboard_on_key_down(self, window: Any, keycode: Any, text: Any, modifiers: Any) -> bool:
        name = _KEYS.get(keycode[0])
        if name is None:
            return bool(super().keyboard_on_key_down(window, keycode, text, modifiers))
        self.key(name)
        return True

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos) or self.disabled:
            return bool(super().on_touch_down(touch))
        super().on_touch_down(touch)        # FocusBehavior takes the focus
        drawn, measure, left = self._layout()
        self.cursor = drawn.nearest_cursor(touch.x - left, measure) if self.text else 0
        return True

    def _focus_changed(self, *_: Any) -> None:
        if self._blinker is not None:
            self._blinker.cancel()
            self._blinker = None
        if self.focus:
            self._blinker = Clock.schedule_interval(self._toggle_caret, 0.5)
        panel = self.keyboard_panel or shared_keyboard()
        if self.focus:
            panel.attach(self)
        else:
            panel.detach(self)
        self._redraw()

    def _toggle_caret(self, _dt: float) -> None:
        self._blink = not self._blink
        self._redraw()

    # -- drawing -----------------------------------------------------------------------
    def _measure(self) -> Any:
        label = CoreLabel(font_name=self.font_name, font_size=self.font_size)
        return lambda text: int(label.get_extents(text)[0]) if text else 0

    def _layout(self, width: float | None = None) -> tuple[Drawn, Any, float]:
        """The drawn line, the measure, and the x of the drawn line's left end (`width`: its drawn width).

        Persian (or, in an empty box, a Persian placeholder) sits at the right, as it is read; a typed line
        too long for the box shows its end, where the caret usually is; a long placeholder its start.
        """
        drawn, measure, pad = Drawn.of(self.text), self._measure(), dp(10)
        hint = shape_line(self.hint_text, is_rtl(self.hint_text))
        if width is None:
            width = measure(drawn.visual) if self.text else measure(hint)
        right_aligned = drawn.rtl if self.text else is_rtl(self.hint_text)
        left = self.right - pad - width if right_aligned else self.x + pad
        if self.text and width > self.width - 2 * pad:
            left = self.x + pad if right_aligned else self.right - pad - width
        return drawn, measure, left

    def _redraw(self, *_: Any) -> None:
        self.canvas.clear()
        drawn = Drawn.of(self.text)
        shown = drawn.visual if self.text else shape_line(self.hint_text, is_rtl(self.hint_text))
        self.drawn_text = drawn.visual
        label = CoreLabel(text=shown, font_name=self.font_name, font_size=self.font_size,
                          color=(0.08, 0.08, 0.1, 1) if self.text else (0.5, 0.5, 0.55, 1))
        label.refresh()
        texture = label.texture
        drawn, measure, left = self._layout(texture.width if shown else 0)
        with self.canvas:
            Color(*((1, 1, 1, 1) if not self.disabled else (0.9, 0.9, 0.9, 1)))
            Rectangle(pos=self.pos, size=self.size)
            Color(*((0.16, 0.32, 0.62, 1) if self.focus else (0.6, 0.6, 0.65, 1)))
            Line(rectangle=(self.x, self.y, self.width, self.height), width=dp(1.5) if self.focus else 1)
            # Only the part inside the box is drawn: a long line never spills over its neighbours.
            start = max(0.0, self.x + dp(10) - left)
            end = min(float(texture.width), self.right - dp(10) - left)
            if shown and end > start:
                Color(1, 1, 1, 1)
                if start <= 0 and end >= texture.width:     # it fits: the whole line
                    Rectangle(texture=texture, size=texture.size, pos=(left, self.center_y - texture.height / 2))
                else:   # the visible span, by texture coordinates
                    u = list(texture.tex_coords)
                    u_start = u[0] + (u[2] - u[0]) * start / texture.width
                    u_end = u[0] + (u[2] - u[0]) * end / texture.width
                    Rectangle(texture=texture, size=(end - start, texture.height),
                              tex_coords=(u_start, u[1], u_end, u[3], u_end, u[5], u_start, u[7]),
                              pos=(left + start, self.center_y - texture.height / 2))
            if self.focus and self._blink:
                if self.text:
                    x = left + drawn.caret_x(int(self.cursor), measure)
                else:   # an empty box: where the first letter will go
                    x = self.right - dp(10) if is_rtl(self.hint_text) else self.x + dp(10)
                Color(0.1, 0.1, 0.1, 1)
                Line(points=[x, self.center_y - self.font_size * 0.6, x, self.center_y + self.font_size * 0.6],
                     width=dp(1))
