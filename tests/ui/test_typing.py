"""Persian typed into the real kiosk comes out as it is read: joined, right to left, the caret where it was put.

Before, Kivy's TextInput drew «مدارک شناسایی کافی نیست» as «ت‌س‌ی‌ن ی‌ف‌ا‌ک…»: unjoined letters, left to right.
The expected lines are written out by hand in Unicode's presentation forms (ﻡ MEEM final U+FEE1, ﺎ ALEF
final U+FE8E, ﻠ LAM medial U+FEE0, ﺳ SEEN initial U+FEB3, ﺒ BEH medial U+FE92, ﯽ FARSI YEH final
U+FBFD, ﻣ MEEM initial U+FEE3, ﺷ SHEEN initial U+FEB7, ﻮ WAW final U+FEEE, ﺩ DAL isolated U+FEA9).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import make_world
from kiosk.core.staff import Role
from screenshots import _under_xvfb

PIN = "135790"
ZWNJ = "\u200c"


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_persian_typed_on_the_kiosks_keyboard_is_joined_right_to_left_and_edited_in_place(
        tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    installed = make_world(tmp_path).installed()
    installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, PIN)
    report = _under_xvfb("drive_typing.py", [str(installed.state), str(tmp_path / "shots"), PIN, lang], tmp_path,
                         "800x480")
    assert report["errors"] == []
    by = {step["step"]: step for step in report["results"]}
    assert all(step["ok"] for step in report["results"]), report["results"]
    assert (by["typed"]["drawn"], by["typed"]["cursor"]) == ("ﻡﺎﻠﺳ", 4)
    assert (by["inserted"]["text"], by["inserted"]["drawn"], by["inserted"]["cursor"]) == ("سلبام", "ﻡﺎﺒﻠﺳ", 3)
    assert (by["backspace"]["text"], by["backspace"]["cursor"]) == ("سلام", 2)     # the letter before the caret
    assert by["digits"]["drawn"] == "۱۴۰۵ ﻡﺎﻠﺳ"                                    # the year reads left to right
    assert by["zwnj"]["text"] == f"سلام ۱۴۰۵ می{ZWNJ}شود"
    # The non-joiner itself is not drawn; «ی» ends its half of the word, «ش» starts the other.
    assert by["zwnj"]["drawn"] == "ﺩﻮﺷﯽﻣ ۱۴۰۵ ﻡﺎﻠﺳ"
