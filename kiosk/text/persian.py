"""Persian text for renderers that neither shape nor reorder (Pillow's basic layout, Kivy's SDL2 text).

Such a renderer draws code points left to right, one glyph each. To show
Persian joined and right to left, a line must be reshaped (letters replaced
by their joined presentation forms) and reordered into visual order. The
order of operations matters: wrap the *logical* paragraph first, measuring
the shaped text, then reshape and reorder each line on its own. Reorder a
whole paragraph and then wrap, and the lines come out bottom to top.

The pure-Python `bidi.algorithm.get_display` is used on purpose: the
Rust-backed `bidi.get_display` in the same package does not mirror brackets,
so "(تأیید)" would print as ")تأیید(".

No renderer is imported here: the caller passes `measure`, so the printer
(Pillow) and the UI (Kivy) share one path.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

import arabic_reshaper
from bidi.algorithm import get_display

Measure = Callable[[str], int]

# Break opportunities are plain spaces and tabs only: a no-break space must
# hold, and ZWNJ (U+200C) sits inside a word («رأی‌دهنده»), never between words.
_SPACES = re.compile(r"[ \t]+")
_ZWNJ = "\u200c"
# The library's default deletes harakat, which would print «لطفاً» as «لطفا».
# Kept in logical position (no shifting) they land on the right letter when
# drawn glyph by glyph with Vazirmatn, whose marks have zero advance.
_RESHAPER = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False})


def is_rtl(text: str) -> bool:
    """True when the first strong character is right-to-left (rules P2–P3 of Unicode's bidi algorithm).

    This decides the base direction, hence the alignment of a line: a
    Persian sentence that starts with a code such as "KSK-07" is still
    Persian, and one without any letters (a bare number) is left to right.
    """
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def shape_line(line: str, rtl: bool) -> str:
    """One line in visual order with joined letters, ready for a left-to-right glyph renderer."""
    reshaped = _RESHAPER.reshape(line)
    visual = get_display(reshaped, base_dir="R" if rtl else "L")
    if not isinstance(visual, str):  # the library returns bytes only for bytes input
        raise TypeError("bidi returned bytes for a str")
    return visual


def visual_lines(text: str, width_px: int, measure: Measure) -> list[str]:
    """Wrap logical text to `width_px` (measured on the shaped text), then shape and reorder each line.

    Explicit newlines start new paragraphs, each with its own base direction.
    A word wider than the whole line is split between characters rather
    than allowed to run off the paper.
    """
    if width_px <= 0:
        raise ValueError("width_px must be positive")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        rtl = is_rtl(paragraph)
        fits = _fits(rtl, width_px, measure)
        lines.extend(shape_line(line, rtl) for line in _wrap(paragraph, fits))
    return lines


def _fits(rtl: bool, width_px: int, measure: Measure) -> Callable[[str], bool]:
    """A test of whether a logical line, once shaped, fits the width."""

    def fits(line: str) -> bool:
        return measure(shape_line(line, rtl)) <= width_px

    return fits


def _wrap(paragraph: str, fits: Callable[[str], bool]) -> Iterator[str]:
    """Greedy wrap at spaces, in logical order; yields one empty line for an empty paragraph."""
    words = [w for w in _SPACES.split(paragraph) if w]
    if not words:
        yield ""
        return
    line = ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if fits(candidate):
            line = candidate
            continue
        if line:
            yield line
        pieces = list(_split_word(word, fits))
        yield from pieces[:-1]
        line = pieces[-1]
    yield line


def _split_word(word: str, fits: Callable[[str], bool]) -> Iterator[str]:
    """Pieces of a word, each as long as fits (at least one cluster, so the loop always advances)."""
    clusters = _clusters(word)
    piece = ""
    for cluster in clusters:
        if piece and not fits(piece + cluster):
            yield piece
            piece = ""
        piece += cluster
    yield piece


def _clusters(word: str) -> list[str]:
    """Characters with their combining marks and any ZWNJ kept attached, so a split never strands a mark."""
    clusters: list[str] = []
    for char in word:
        if clusters and (unicodedata.combining(char) or char == _ZWNJ):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


# For a line being edited: one presentation form per code point (no lam-alef ligature), so that every
# glyph on screen stands for exactly one character of the logical text and a caret can sit between them.
_EDIT_RESHAPER = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False, "support_ligatures": False})


def shape_line_mapped(line: str, rtl: bool) -> tuple[str, list[int], list[bool]]:
    """`line` in visual order with joined letters, and for each visual position the logical index it
    shows and whether it runs right to left (its resolved bidi level is odd).

    The steps are those of `bidi.algorithm.get_display` with each character tagged by its index,
    so the reordering (rule L2) carries the index along. Characters the algorithm removes (rule X9: the
    zero-width non-joiner, marks of direction) have no visual position, as in `shape_line`; the shaping
    has already taken the non-joiner into account.
    """
    from bidi import algorithm as uba

    reshaped = _EDIT_RESHAPER.reshape(line)
    if len(reshaped) != len(line):      # cannot happen with ligatures off; never draw a caret off by one
        raise ValueError("reshaping changed the line's length")
    storage = uba.get_empty_storage()
    storage["base_level"] = uba.PARAGRAPH_LEVELS["R" if rtl else "L"]
    storage["base_dir"] = "R" if rtl else "L"
    uba.get_embedding_levels(reshaped, storage)
    if len(storage["chars"]) != len(line):
        raise ValueError("a character outside the basic plane")
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
    for step in (uba.explicit_embed_and_overrides, uba.resolve_weak_types, uba.resolve_neutral_types,
                 uba.resolve_implicit_levels, uba.reorder_resolved_levels, uba.apply_mirroring):
        step(storage, False)
    chars = storage["chars"]
    return "".join(c["ch"] for c in chars), [c["index"] for c in chars], [c["level"] % 2 == 1 for c in chars]
