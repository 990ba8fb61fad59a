"""One line of text being typed: the logical string and a caret, and where the caret shows once the line
is shaped and reordered for a left-to-right glyph renderer.

Kivy's TextInput draws code points left to right, unjoined (Kivy issue 8615): typed Persian reads
backwards. The box keeps the logical string, as the keyboard produced it; only the drawing is visual.
No renderer is imported: widths come from the caller's `measure` (as in kiosk.text.persian).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from kiosk.text.persian import Measure, is_rtl, shape_line_mapped


@dataclass(frozen=True, slots=True)
class Edit:
    """The logical text and the caret's place in it (0 = before the first character typed)."""

    text: str = ""
    cursor: int = 0
    max_length: int = 0         # 0: no limit

    def insert(self, typed: str) -> Edit:
        """`typed` at the caret; what would pass the box's limit is dropped, not truncated mid-word."""
        typed = typed.replace("\n", " ").replace("\r", "")
        if self.max_length and len(self.text) + len(typed) > self.max_length:
            typed = typed[:max(self.max_length - len(self.text), 0)]
        if not typed:
            return self
        text = self.text[:self.cursor] + typed + self.text[self.cursor:]
        return Edit(text, self.cursor + len(typed), self.max_length)

    def backspace(self) -> Edit:
        """The character before the caret goes (a letter's mark goes on its own, as in other editors)."""
        if self.cursor == 0:
            return self
        return Edit(self.text[:self.cursor - 1] + self.text[self.cursor:], self.cursor - 1, self.max_length)

    def delete(self) -> Edit:
        """The character after the caret goes."""
        if self.cursor >= len(self.text):
            return self
        return Edit(self.text[:self.cursor] + self.text[self.cursor + 1:], self.cursor, self.max_length)

    def to(self, cursor: int) -> Edit:
        """The caret moved to `cursor`, kept inside the text and off a combining mark's left side."""
        cursor = min(max(cursor, 0), len(self.text))
        while 0 < cursor < len(self.text) and unicodedata.combining(self.text[cursor]):
            cursor += 1
        return Edit(self.text, cursor, self.max_length)

    def step(self, visual_right: bool) -> Edit:
        """An arrow key: in a right-to-left line the right arrow goes towards the start of the text."""
        forward = visual_right != is_rtl(self.text)
        return self.to(self.cursor + (1 if forward else -1))


@dataclass(frozen=True, slots=True)
class Drawn:
    """A line as drawn: visual text, and for each visual position its logical index and direction."""

    visual: str
    order: list[int]
    rtl_glyph: list[bool]
    rtl: bool

    @classmethod
    def of(cls, text: str) -> Drawn:
        visual, order, rtl_glyph = shape_line_mapped(text, is_rtl(text))
        return cls(visual, order, rtl_glyph, is_rtl(text))

    def caret_x(self, cursor: int, measure: Measure) -> int:
        """The caret's distance from the left end of the drawn line, for a caret before logical `cursor`."""
        if not self.visual:
            return 0
        # Just after the character before the caret, on its far side; a character not drawn (a ZWNJ)
        # puts the caret where the one before it does.
        before = cursor - 1
        while before >= 0 and before not in self.order:
            before -= 1
        if before < 0:       # before everything: at the line's reading start
            return measure(self.visual) if self.rtl else 0
        at = self.order.index(before)
        return measure(self.visual[:at]) if self.rtl_glyph[at] else measure(self.visual[:at + 1])

    def nearest_cursor(self, x: float, measure: Measure) -> int:
        """The logical caret place drawn closest to `x` (a touch on the box)."""
        places = range(len(self.order) + 1)
        return min(places, key=lambda cursor: abs(self.caret_x(cursor, measure) - x))
