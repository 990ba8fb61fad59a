"""Persian shaping for the printer and the UI: joined letters, right-to-left lines in the right order.

Every expected line is written out as code points from Unicode's Arabic Presentation Forms charts
(U+FB50–FDFF, U+FE70–FEFF), derived by hand from the joining rules: a letter takes its initial,
medial, final or isolated form by whether its neighbours join to it. No expectation is made with
the shaper the code calls. Strings are given in visual order (left to right, as drawn), each
letter commented from the right, which is where it is read from.
"""
from __future__ import annotations

import unicodedata

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


def named(*names: str) -> str:
    """Characters by their Unicode names, to check a hand-written expectation reads as meant."""
    return "".join(unicodedata.lookup(name) for name in names)


# Words as drawn (visual order); the comment lists the letters as read, from the right.
SHOBE = "\ufeea\ufe92\ufecc\ufeb7"        # شعبه: ش initial, ع medial, ب medial, ه final
AKHZ = "\ufeac\ufea7\ufe8d"               # اخذ: ا isolated, خ initial, ذ final
KAD = "\ufeaa\ufb90"                       # کد: ک initial, د final
TAEID = "\ufeaa\ufbff\ufbfe\ufe84\ufe97"  # تأیید: ت initial, أ final, ی initial, ی medial, د final
AMADE = "\ufee9\ufea9\ufe8e\ufee3\ufe81"  # آماده: آ isolated, م initial, ا final, د isolated, ه isolated
SAAT = "\ufe96\ufecb\ufe8e\ufeb3"         # ساعت: س initial, ا final, ع initial, ت final
WORDS = {                                    # the six words of the wrapping test
    "یک": "\ufb8f\ufbfe",                   # ی initial, ک final
    "دو": "\ufeed\ufea9",                   # د isolated, و isolated
    "سه": "\ufeea\ufeb3",                   # س initial, ه final
    "چهار": "\ufead\ufe8e\ufeec\ufb7c",     # چ initial, ه medial, ا final, ر isolated
    "پنج": "\ufe9e\ufee8\ufb58",            # پ initial, ن medial, ج final
    "شش": "\ufeb6\ufeb7",                   # ش initial, ش final
}


def test_the_hand_written_forms_are_the_letters_they_claim() -> None:
    assert SHOBE == named("ARABIC LETTER HEH FINAL FORM", "ARABIC LETTER BEH MEDIAL FORM",
                          "ARABIC LETTER AIN MEDIAL FORM", "ARABIC LETTER SHEEN INITIAL FORM")
    assert KAD == named("ARABIC LETTER DAL FINAL FORM", "ARABIC LETTER KEHEH INITIAL FORM")
    assert TAEID == named("ARABIC LETTER DAL FINAL FORM", "ARABIC LETTER FARSI YEH MEDIAL FORM",
                          "ARABIC LETTER FARSI YEH INITIAL FORM", "ARABIC LETTER ALEF WITH HAMZA ABOVE FINAL FORM",
                          "ARABIC LETTER TEH INITIAL FORM")
    assert LAM_ALEF_WORDS["سلام"] == named("ARABIC LETTER MEEM ISOLATED FORM",
                                           "ARABIC LIGATURE LAM WITH ALEF FINAL FORM",
                                           "ARABIC LETTER SEEN INITIAL FORM")
    assert LAM_ALEF_WORDS["لا"] == named("ARABIC LIGATURE LAM WITH ALEF ISOLATED FORM")


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
    # مشارکت: م initial, ش medial, ا final, ر isolated, ک initial, ت final;
    # then ثبت: ث initial, ب medial, ت final.
    assert line == "\ufe96\ufb90\ufead\ufe8e\ufeb8\ufee3" + " " + "\ufe96\ufe92\ufe9b"


# Lam followed by alef is one ligature glyph, never two letters side by side.
LAM_ALEF_WORDS = {
    "لا": "\ufefb",                                 # لا isolated
    "سلام": "\ufee1\ufefc\ufeb3",                   # س initial, لا final, م isolated (alef joins nothing on)
    "بلافاصله": "\ufeea\ufee0\ufebb\ufe8e\ufed3\ufefc\ufe91",  # ب initial, لا final, ف initial, ا final,
}                                                   # ص initial, ل medial, ه final


@pytest.mark.parametrize("word", LAM_ALEF_WORDS)
def test_lam_alef_is_drawn_as_its_ligature(word: str) -> None:
    assert visual_lines(word, WIDE, chars) == [LAM_ALEF_WORDS[word]]


def test_harakat_are_kept() -> None:
    [line] = visual_lines("لطفاً", WIDE, chars)
    # The tanween must survive shaping: "لطفا" without it is a spelling mistake on a receipt.
    # ل initial, ط medial, ف medial, ا final, then the tanween (U+064B), which the reversal puts
    # first; drawn with Vazirmatn's zero-advance mark it sits over the alef
    # (tests/fixtures/receipts/escalation_ticket.png, checked by eye).
    assert line == "\u064b\ufe8e\ufed4\ufec4\ufedf"


def test_persian_line_is_reversed_into_visual_order() -> None:
    [line] = visual_lines("شعبه اخذ", WIDE, chars)
    # The first logical word is drawn rightmost, so it ends the visual string.
    assert line == AKHZ + " " + SHOBE


def test_wrapped_paragraph_keeps_its_line_order() -> None:
    words = ["یک", "دو", "سه", "چهار", "پنج", "شش"]
    lines = visual_lines(" ".join(words), 7, chars)
    assert len(lines) == 3
    # Top line holds the first words, bottom line the last, each reading right to left.
    for line, (first, second) in zip(lines, [words[0:2], words[2:4], words[4:6]], strict=True):
        assert line == WORDS[second] + " " + WORDS[first]


def test_every_wrapped_line_fits_the_width_as_measured_on_shaped_text() -> None:
    text = "پرونده ارجاعی به نماینده فرماندار در شعبه اخذ رأی کد ۱۰۰۱"
    lines = visual_lines(text, 12, chars)
    assert len(lines) > 1
    assert all(chars(line) <= 12 for line in lines)


def test_brackets_are_mirrored_so_they_read_correctly() -> None:
    [line] = visual_lines("(تأیید)", WIDE, chars)
    # Drawn left to right the string must show "(" on the left and ")" on the right, around the reversed word.
    assert line == "(" + TAEID + ")"
    [inside] = visual_lines("دکمه (تأیید) را بزنید", WIDE, chars)
    assert "(" + TAEID + ")" in inside


@pytest.mark.parametrize("number", ["1001", "1024", "۱۰۲۴"])
def test_digits_inside_persian_keep_left_to_right_order(number: str) -> None:
    [line] = visual_lines(f"کد شعبه {number}", WIDE, chars)
    # The number ends the logical sentence, so it sits at the left, still reading left to right.
    assert line == number + " " + SHOBE + " " + KAD


def test_a_clock_time_in_persian_digits_reads_left_to_right_after_its_word() -> None:
    [line] = visual_lines("ساعت ۱۰:۲۳", WIDE, chars)
    # Extended Arabic-Indic digits are European numbers to the bidi algorithm: ۱۰:۲۳ stays one left-to-right run.
    assert line == "\u06f1\u06f0:\u06f2\u06f3" + " " + SAAT


def test_persian_and_ascii_digits_in_one_line_each_keep_their_order() -> None:
    [line] = visual_lines("کد ۱۰۲۴ شعبه 1001", WIDE, chars)
    assert line == "1001 " + SHOBE + " \u06f1\u06f0\u06f2\u06f4 " + KAD


def test_latin_code_inside_persian_stays_readable() -> None:
    [line] = visual_lines("دستگاه KSK-07 آماده است", WIDE, chars)
    assert "KSK-07" in line


def test_wrapped_line_starting_with_latin_keeps_the_paragraph_direction() -> None:
    lines = visual_lines("شعبه اخذ رأی KSK-07 آماده", 12, chars)
    assert len(lines) == 2
    # The second line starts (logically) with a Latin code but stays right to left: the code is rightmost.
    assert lines[1] == AMADE + " KSK-07"


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
    assert [line[::-1] for line in lines] == [SHOBE[::-1], VOTER_SHAPED]


def test_zwnj_in_a_verb_keeps_both_halves_in_their_own_forms() -> None:
    [line] = visual_lines("می" + ZWNJ + "خواهم", WIDE, chars)
    # م initial, ی final (not medial: the ZWNJ ends the word part), then خ initial, و final,
    # ا isolated, ه initial, م final; the ZWNJ itself is not drawn.
    assert line == "\ufee2\ufeeb\ufe8d\ufeee\ufea7" + "\ufbfd\ufee3"


def test_english_paragraph_is_left_to_right_and_wraps_in_order() -> None:
    assert visual_lines("Check-in recorded (OK)", 12, chars) == ["Check-in", "recorded", "(OK)"]


def test_overlong_word_is_split_instead_of_running_off_the_paper() -> None:
    lines = visual_lines("ABCDEFGHIJ", 4, chars)
    assert lines == ["ABCD", "EFGH", "IJ"]


def test_newlines_start_paragraphs_with_their_own_direction() -> None:
    lines = visual_lines("شعبه\nBranch", WIDE, chars)
    assert lines == [SHOBE, "Branch"]


def test_shape_line_uses_the_given_direction() -> None:
    assert shape_line("A شعبه", rtl=True) == SHOBE + " A"
    assert shape_line("A شعبه", rtl=False) == "A " + SHOBE


def test_width_must_be_positive() -> None:
    with pytest.raises(ValueError):
        visual_lines("x", 0, chars)
