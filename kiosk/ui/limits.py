"""Text boxes that stop at the core's limits: what staff can type is what the core and the wire accept.

Kivy's TextInput has no maximum length. A filter drops control characters
(and line breaks in a one-line box) and cuts what is typed or pasted at the
limit; a text set by the program (a picked preset reason) is cut the same way.
"""
from __future__ import annotations

from typing import Any

from kiosk.core.staff import PIN_DIGITS
from kiosk.core.text_limits import clip

PIN_MAX = PIN_DIGITS[1]     # the longest PIN; the keypads stop there too


def limit_box(box: Any, limit: int, newlines: bool = False) -> None:
    """Make `box` (a Kivy TextInput) keep at most `limit` characters, one line unless `newlines`."""
    def typed(text: str, _from_undo: bool) -> str:
        room = limit - (len(box.text) - len(box.selection_text))
        return clip(text, max(room, 0), newlines)

    def changed(_box: Any, text: str) -> None:
        kept = clip(text, limit, newlines)
        if kept != text:
            box.text = kept

    box.input_filter = typed
    box.bind(text=changed)


def limit_pin_box(box: Any) -> None:
    """A PIN box keeps digits only (any script), at most the longest PIN."""
    def typed(text: str, _from_undo: bool) -> str:
        room = PIN_MAX - (len(box.text) - len(box.selection_text))
        return "".join(c for c in text if c.isdigit())[:max(room, 0)]

    def changed(_box: Any, text: str) -> None:
        kept = "".join(c for c in text if c.isdigit())[:PIN_MAX]
        if kept != text:
            box.text = kept

    box.input_filter = typed
    box.bind(text=changed)
