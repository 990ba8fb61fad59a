"""What a person would see cut off, or find too small to touch, on the window as it is drawn now.

Used by every driver of the real apps after each step: a label whose text is larger than its box, a widget
sticking out of its parent (a scrolling list excepted: its rows scroll), and a touch target (button, text
box, list, toggle) smaller than 48 px either way, which is 9 mm on the 7" touchscreen (the issue's figure). The
simulation panel's buttons are left out: they stand in for a card and a reader on a laptop, not on the appliance.
Popups (the on-screen keyboard, a question) sit on the window beside the app's root, so the walk starts there.
"""
from __future__ import annotations

from typing import Any

TARGET_PX = 48


def _box(widget: Any) -> tuple[float, float, float, float]:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def _shown(widget: Any) -> bool:
    return bool(widget.opacity > 0 and widget.height > 0 and widget.width > 0)


def _visible(root: Any) -> list[Any]:
    """Widgets drawn on the window: not transparent, not of zero size, nor inside a hidden one."""
    found: list[Any] = []

    def walk(widget: Any) -> None:
        if not _shown(widget):
            return
        found.append(widget)
        for child in widget.children:
            walk(child)

    walk(root)
    return found


def _top(root: Any) -> list[Any]:
    window = root.get_root_window()
    return list(window.children) if window is not None else [root]


def clipped(root: Any) -> list[str]:
    """Visible widgets sticking out of their parent (scrolling lists excepted) or text larger than its label."""
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    found: list[str] = []
    for top in _top(root):
        for widget in _visible(top):
            parent = widget.parent
            if parent is not None and parent is not widget.get_root_window() and not isinstance(parent, ScrollView) \
                    and not _inside_scroll(parent):
                x, y, right, high = _box(widget)
                px, py, pright, phigh = _box(parent)
                if x < px - 1 or y < py - 1 or right > pright + 1 or high > phigh + 1:
                    found.append(f"{type(widget).__name__} {_words(widget)!r} out of its parent")
            if isinstance(widget, Label) and widget.text and (
                    widget.texture_size[1] > widget.height + 2 or widget.texture_size[0] > widget.width + 2):
                found.append(f"{_words(widget)!r} larger than its label")
    return found


def small_targets(root: Any) -> list[str]:
    """Touch targets on the window under 48 px high or wide."""
    found: list[str] = []
    for top in _top(root):
        for widget in _visible(top):
            if _touchable(widget) and type(widget).__name__ != "SimulatorButton" \
                    and (widget.height < TARGET_PX - 0.5 or widget.width < TARGET_PX - 0.5):
                found.append(f"{type(widget).__name__} {_words(widget)!r} {widget.width:.0f}x{widget.height:.0f} px")
    return found


def _touchable(widget: Any) -> bool:
    from kivy.uix.behaviors import ButtonBehavior, FocusBehavior, ToggleButtonBehavior
    from kivy.uix.textinput import TextInput

    return isinstance(widget, (ButtonBehavior, ToggleButtonBehavior, FocusBehavior, TextInput))


def _inside_scroll(widget: Any) -> bool:
    from kivy.uix.scrollview import ScrollView

    while widget is not None and widget is not widget.get_root_window():
        if isinstance(widget, ScrollView):
            return True
        widget = widget.parent
    return False


def _words(widget: Any) -> str:
    return str(getattr(widget, "text", ""))[:30]
