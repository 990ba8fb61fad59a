"""Persian shaping for the printer and the UI: joined letters, right-to-left lines in the right order."""
from __future__ import annotations

import arabic_reshaper
import pytest

from kiosk.text.persian import is_rtl, shape_line, visual_lines

ZWNJ = "\u200c"
WIDE = 10_000


def chars(text: str) -> int:
    """A measure of one unit per code point: lets tests predict where lines break."""
    return len(text)


def is_presentation_form(char: str) -> bool:
    """Arabic Presentation Forms-A or -B: what a glyph-by-glyph renderer needs to draw joined letters."""
    return "\ufb50" <= char <= "\ufdff" or "\ufe70" <= char <= "\ufeff"


def logical_shaped(word: str) -> str:
    """A word reshaped but still in logical order, to compare with reversed visual output."""
    return str(arabic_reshaper.reshape(word))


def test_direction_comes_from_the_first_strong_character() -> None:
    assert is_rtl("کد شعبه 1001")
    assert is_rtl("1001 کد شعبه")
    assert is_rtl("«رأی‌دهنده» KSK")
    assert not is_rtl("KSK-07 شعبه")
    assert not is_rtl("1001")
    assert not is_rtl("")


def test_persian_letters_come_out_as_joined_presentation_forms() -> None:
    [line] = visual_lines("ثبت مشارکت", WIDE, chars)
    letters = [c for c in line if c != " "]
    assert letters and all(is_presentation_form(c) for c in letters)
    # "مشارکت" joins: its first letter takes the initial form, not the isolated one.
    assert "\ufee3" in line and "\ufee1" not in line


def test_harakat_are_kept() -> None:
    [line] = visual_lines("لطفاً", WIDE, chars)
    # The tanween must survive shaping: "لطفا" without it is a spelling mistake on a receipt.
    assert "\u064b" in line


def test_persian_line_is_reversed_into_visual_order() -> None:
    [line] = visual_lines("شعبه اخذ", WIDE, chars)
    # The first logical word is drawn rightmost, so it ends the visual string.
    assert line == logical_shaped("اخذ")[::-1] + " " + logical_shaped("شعبه")[::-1]


def test_wrapped_paragraph_keeps_its_line_order() -> None:
    words = ["یک", "دو", "سه", "چهار", "پنج", "شش"]
    lines = visual_lines(" ".join(words), 7, chars)
    assert len(lines) == 3
    # Top line holds the first words, bottom line the last, each reading right to left.
    for line, (first, second) in zip(lines, [words[0:2], words[2:4], words[4:6]], strict=True):
        assert line == logical_shaped(second)[::-1] + " " + logical_shaped(first)[::-1]


def test_every_wrapped_line_fits_the_width_as_measured_on_shaped_text() -> None:
    text = "پرونده ارجاعی به نماینده فرماندار در شعبه اخذ رأی کد ۱۰۰۱"
    lines = visual_lines(text, 12, chars)
    assert len(lines) > 1
    assert all(chars(line) <= 12 for line in lines)


def test_brackets_are_mirrored_so_they_read_correctly() -> None:
    [line] = visual_lines("(تأیید)", WIDE, chars)
    # Drawn left to right the string must show "(" on the left and ")" on the right, around the reversed word.
    assert line == "(" + logical_shaped("تأیید")[::-1] + ")"
    [inside] = visual_lines("دکمه (تأیید) را بزنید", WIDE, chars)
    assert "(" + logical_shaped("تأیید")[::-1] + ")" in inside


@pytest.mark.parametrize("number", ["1001", "1024", "۱۰۲۴"])
def test_digits_inside_persian_keep_left_to_right_order(number: str) -> None:
    [line] = visual_lines(f"کد شعبه {number}", WIDE, chars)
    # The number ends the logical sentence, so it sits at the left, still reading left to right.
    assert line == number + " " + logical_shaped("کد شعبه")[::-1]


def test_latin_code_inside_persian_stays_readable() -> None:
    [line] = visual_lines("دستگاه KSK-07 آماده است", WIDE, chars)
    assert "KSK-07" in line


def test_wrapped_line_starting_with_latin_keeps_the_paragraph_direction() -> None:
    lines = visual_lines("شعبه اخذ رأی KSK-07 آماده", 12, chars)
    assert len(lines) == 2
    # The second line starts (logically) with a Latin code but stays right to left: the code is rightmost.
    assert lines[1] == logical_shaped("آماده")[::-1] + " KSK-07"


# رأی‌دهنده shaped, in logical order: ر أ ی (isolated, not initial) | د (isolated, not final) ه ن د ه.
VOTER_SHAPED = "\ufead\ufe83\ufbfc\ufea9\ufeeb\ufee8\ufeaa\ufee9"


def test_zwnj_stops_joining_across_it() -> None:
    [line] = visual_lines("رأی" + ZWNJ + "دهنده", WIDE, chars)
    # The ZWNJ itself is dropped by the bidi step (class BN, no glyph); its effect stays in the letter forms.
    assert line[::-1] == VOTER_SHAPED
    [joined] = visual_lines("رأیدهنده", WIDE, chars)
    # Without the ZWNJ the same ی takes its initial form and the د its final one.
    assert joined[::-1][2:4] == "\ufbfe\ufeaa"


def test_a_wrap_never_breaks_at_a_zwnj() -> None:
    # "شعبه رأی" would fit in 8; breaking there would strand "دهنده" on its own line.
    lines = visual_lines("شعبه رأی" + ZWNJ + "دهنده", 8, chars)
    assert [line[::-1] for line in lines] == [logical_shaped("شعبه"), VOTER_SHAPED]


def test_english_paragraph_is_left_to_right_and_wraps_in_order() -> None:
    assert visual_lines("Check-in recorded (OK)", 12, chars) == ["Check-in", "recorded", "(OK)"]


def test_overlong_word_is_split_instead_of_running_off_the_paper() -> None:
    lines = visual_lines("ABCDEFGHIJ", 4, chars)
    assert lines == ["ABCD", "EFGH", "IJ"]


def test_newlines_start_paragraphs_with_their_own_direction() -> None:
    lines = visual_lines("شعبه\nBranch", WIDE, chars)
    assert lines == [logical_shaped("شعبه")[::-1], "Branch"]


def test_shape_line_uses_the_given_direction() -> None:
    assert shape_line("A شعبه", rtl=True) == logical_shaped("شعبه")[::-1] + " A"
    assert shape_line("A شعبه", rtl=False) == "A " + logical_shaped("شعبه")[::-1]


def test_width_must_be_positive() -> None:
    with pytest.raises(ValueError):
        visual_lines("x", 0, chars)
