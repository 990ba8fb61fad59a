"""Typing Persian into one line: the logical text as typed, and what the screen draws of it.

Expectations are written out by hand from Unicode's tables (presentation forms, bidi classes), not
computed by the code under test: "ﺖ" is TEH's final form (U+FE96), "ﯼ" FARSI YEH isolated (U+FBFC),
"ﯾ" its initial form (U+FBFE). Widths come from a monospaced stand-in: every glyph 10 px wide.
"""
from __future__ import annotations

from kiosk.text.editing import Drawn, Edit


def mono(text: str) -> int:
    return 10 * len(text)


def typed(*keys: str) -> Edit:
    edit = Edit()
    for key in keys:
        edit = edit.insert(key)
    return edit


def test_the_issues_sentence_is_drawn_joined_and_right_to_left() -> None:
    edit = typed(*"مدارک شناسایی کافی نیست")
    assert edit.text == "مدارک شناسایی کافی نیست" and edit.cursor == 23
    # Read from the left of the screen: «نیست» comes last in the sentence, so first on the left.
    assert Drawn.of(edit.text).visual == "ﺖﺴﯿﻧ ﯽﻓﺎﮐ ﯽﯾﺎﺳﺎﻨﺷ ﮎﺭﺍﺪﻣ"
    # The caret after the last letter typed is at the left end of the drawn line.
    assert Drawn.of(edit.text).caret_x(edit.cursor, mono) == 0


def test_insert_in_the_middle_and_the_caret_follows_the_letter() -> None:
    edit = typed(*"سلام").to(2).insert("ب")      # a letter forgotten between «سل» and «ام»
    assert (edit.text, edit.cursor) == ("سلبام", 3)
    drawn = Drawn.of(edit.text)
    assert drawn.visual == "ﻡﺎﺒﻠﺳ"
    # Five glyphs of 10 px, right to left: «ب» is the third from the right, at 20–30 px; the caret after it
    # (in reading order) is on its left side.
    assert drawn.caret_x(3, mono) == 20
    assert drawn.caret_x(0, mono) == 50          # before the first letter: the right end
    assert drawn.nearest_cursor(21, mono) == 3   # a touch there puts the caret back after «ب»


def test_backspace_takes_the_letter_before_the_caret_not_the_last_one() -> None:
    edit = typed(*"کتاب").to(2).backspace()
    assert (edit.text, edit.cursor) == ("کاب", 1)
    assert Edit("", 0).backspace() == Edit("", 0)
    assert typed(*"کتاب").to(0).backspace().text == "کتاب"
    assert typed(*"کتاب").to(1).delete().text == "کاب"


def test_digits_inside_persian_run_left_to_right_in_their_place() -> None:
    edit = typed(*"سال ", *"۱۳۶۰", *" است")
    drawn = Drawn.of(edit.text)
    # «است» on the left, then the number read left to right, then «سال» on the right.
    assert drawn.visual == "ﺖﺳﺍ ۱۳۶۰ ﻝﺎﺳ"
    # The caret after «۳» (logical place 6) sits right of «۳», the sixth glyph from the left: at 60 px.
    assert drawn.caret_x(6, mono) == 60
    # Digits typed between: the number grows at its own right end, as it is read.
    longer = edit.to(8).insert("۵")
    assert longer.text == "سال ۱۳۶۰۵ است" and Drawn.of(longer.text).visual == "ﺖﺳﺍ ۱۳۶۰۵ ﻝﺎﺳ"


def test_a_zwnj_keeps_the_letters_apart_and_goes_with_one_backspace() -> None:
    with_zwnj = typed(*"رأی", "\u200c", *"دهنده")
    assert with_zwnj.text == "رأی\u200cدهنده"
    drawn = Drawn.of(with_zwnj.text)
    yeh = drawn.visual[drawn.order.index(2)]
    assert yeh == "\ufbfc"                        # «ی» stands alone before the non-joiner
    joined = Drawn.of("رأیدهنده")
    assert joined.visual[joined.order.index(2)] == "\ufbfe"   # without it «ی» joins «د»
    assert with_zwnj.to(4).backspace().text == "رأیدهنده"


def test_a_limit_drops_what_does_not_fit_and_a_latin_line_runs_left_to_right() -> None:
    edit = Edit(max_length=5).insert("abcdefg")
    assert (edit.text, edit.cursor) == ("abcde", 5)
    assert Drawn.of(edit.text).visual == "abcde" and Drawn.of(edit.text).caret_x(5, mono) == 50
    assert Edit("abc", 1).step(visual_right=True).cursor == 2
    assert Edit("سلام", 1).step(visual_right=True).cursor == 0   # right in Persian goes back to the start
    assert Edit().insert("a\nb").text == "a b"                    # one line: a pasted break becomes a space
