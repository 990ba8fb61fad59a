"""An on-screen keyboard for the kiosk's text boxes: a kiosk has no physical one.

Persian in the standard layout (ISIRI 9147's letter rows), with the zero-width non-joiner on its own key
(«نیم‌فاصله»: «رأی‌دهنده» needs it), digits, and Latin letters for the rare Latin entry. It floats over the
bottom of the window while an RtlTextInput has the focus, as a phone's does, and hides on its own key;
its touches do not take the focus from the box they type into.
"""
from __future__ import annotations

from typing import Any

from kivy.core.window import Window
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.behaviors import FocusBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.jalali import persian_digits
from kiosk.ui.widgets import BidiButton

ZWNJ = "\u200c"
LAYOUTS: dict[str, tuple[str, ...]] = {
    "fa": ("ضصثقفغعهخحجچ", "شسیبلاتنمکگ", "ظطزرذدپوژآئ"),
    "digits": (persian_digits("1234567890"), "1234567890", "-/.،()؛:«»"),
    "latin": ("qwertyuiop", "asdfghjkl", "zxcvbnm-.'"),
}
KEY_DP = 50             # every key a thumb's width and more than 48 px high


class _Key(BidiButton):
    """A key: its touch stays out of FocusBehavior's "touched elsewhere, unfocus" rule."""

    def on_touch_down(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            FocusBehavior.ignored_touch.append(touch)
        return bool(super().on_touch_down(touch))


class PersianKeyboard(BoxLayout):  # type: ignore[misc]
    """Rows of keys typing into `target`; `captions` names the special keys in the screen's language."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("spacing", dp(3))
        kwargs.setdefault("padding", dp(3))
        kwargs.setdefault("size_hint", (None, None))
        super().__init__(**kwargs)
        self.target: Any = None
        self._lifted: Any = None       # the app's root while it is slid up above the keys
        self.layout = "fa"
        self.captions = {"space": "فاصله", "zwnj": "نیم‌فاصله", "back": "حذف", "hide": "بستن",
                         "digits": "۱۲۳", "fa": "فا", "latin": "ABC"}
        with self.canvas.before:
            Color(0.22, 0.24, 0.3, 1)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._place_bg, size=self._place_bg)
        self._build()

    # -- which box it types into --------------------------------------------------------
    def attach(self, box: Any) -> None:
        """Show over the bottom of the window, typing into `box`, with the keys `box` asks for."""
        if box is not self.target and getattr(box, "keyboard_layout", self.layout) != self.layout:
            self._switch(box.keyboard_layout)
        self.target = box
        self.width = Window.width
        self.height = dp(KEY_DP) * 4 + dp(3) * 5
        self.pos = (0, 0)
        if self.parent is None:
            Window.add_widget(self)
        self._lift(box)

    def detach(self, box: Any) -> None:
        """`box` lost the focus: hide, unless another box took it meanwhile."""
        if self.target is box:
            self.hide()

    def hide(self) -> None:
        target, self.target = self.target, None
        self._lift(None)
        if self.parent is not None:
            self.parent.remove_widget(self)
        if target is not None and target.focus:
            target.focus = False

    def relabel(self, captions: dict[str, str]) -> None:
        """The special keys' words in the screen's language (rebuilt only when they change)."""
        if any(self.captions.get(name) != word for name, word in captions.items()):
            self.captions.update(captions)
            self._build()

    def _lift(self, box: Any) -> None:
        """Slide the app's content up just enough that `box` shows above the keys (None: back down)."""
        root = self._lifted
        if root is not None:
            root.y, self._lifted = 0, None
        if box is None:
            return
        root = box
        while root.parent is not None and root.parent is not Window:
            root = root.parent
        if root is box or root is self:
            return
        bottom = box.to_window(box.x, box.y)[1]
        lift = self.top + dp(8) - bottom
        if lift > 0:
            root.y, self._lifted = lift, root

    # -- keys ------------------------------------------------------------------------
    def _build(self) -> None:
        self.clear_widgets()
        for letters in LAYOUTS[self.layout]:
            row = BoxLayout(spacing=dp(3))
            # Persian rows are read from the right: the first letter of the row is the rightmost key.
            for char in (reversed(letters) if self.layout == "fa" else letters):
                row.add_widget(self._key(char, lambda c=char: self._type(c)))
            self.add_widget(row)
        bottom = BoxLayout(spacing=dp(3))
        # A key for each of the two other layouts, named by the layout it opens.
        switch, other = (name for name in LAYOUTS if name != self.layout)
        for name, action, weight in (("hide", self.hide, 1.2), (switch, lambda: self._switch(switch), 1),
                                     (other, lambda: self._switch(other), 1), ("space", lambda: self._type(" "), 3.5),
                                     ("zwnj", lambda: self._type(ZWNJ), 1.6), ("back", self._back, 1.4)):
            key = self._key(self.captions[name], action, font="16sp")
            key.name, key.size_hint_x = name, weight
            bottom.add_widget(key)
        self.add_widget(bottom)

    def _key(self, caption: str, action: Any, font: str = "22sp") -> _Key:
        key = _Key(raw=caption, font_size=font, size_hint_y=1, background_color=(0.38, 0.41, 0.5, 1))
        key.char = caption
        key.bind(on_release=lambda _k: action())
        return key

    def _type(self, char: str) -> None:
        if self.target is not None:
            self.target.insert_text(char)

    def _back(self) -> None:
        if self.target is not None:
            self.target.key("backspace")

    def _switch(self, layout: str) -> None:
        self.layout = layout
        self._build()

    def _place_bg(self, *_: Any) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size

    def keys(self) -> dict[str, Any]:
        """Every key on show by what it types or names (for a person's touches in the tests)."""
        found: dict[str, Any] = {}
        for row in self.children:
            for key in row.children:
                found[getattr(key, "name", key.char)] = key
        return found


_SHARED: list[PersianKeyboard] = []


def keyboard_words(say: Any) -> dict[str, str]:
    """The special keys' captions from a catalogue lookup `say(key)`."""
    return {name: say(f"keyboard.{name}") for name in ("space", "zwnj", "back", "hide")}


def shared_keyboard() -> PersianKeyboard:
    """The one on-screen keyboard of this window (made on first use, on Kivy's thread)."""
    if not _SHARED:
        _SHARED.append(PersianKeyboard())
    return _SHARED[0]
