"""The real Kivy app under Xvfb, driven as staff do: sign-in, every verdict, check-in, escalation and lock.

Every action is a touch at a widget's place in the window, keys on a keyboard, or a card in the reader.
In Persian the cards go into vpcd's virtual reader through a real pcscd (the app's PC/SC driver reads
them); in English into the simulated reader, through the simulation panel's buttons.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import jdatetime
import pytest

from helpers import PEOPLE
from kiosk.ui.text import EN, FA
from screenshots import drive

sys.path.insert(0, str(Path(__file__).parents[1] / "drivers"))
from test_card_pcsc import pcscd  # noqa: E402, F401  (a fixture: the machine's pcscd, or one started here)

STEPS = ["sign_in", "wrong_pin", "ready", "verdict_eligible_card", "done", "verdict_already_voted",
         "verdict_underage", "verdict_deceased", "verdict_suspended", "verdict_not_found", "verdict_invalid_code",
         "code_corrected", "verdict_card_not_trusted", "escalation", "escalation_incomplete", "cases",
         "withdraw_asked", "withdraw_kept", "withdrawn", "reader_unplugged", "staff",
         "worker_added", "back_to_ready", "locked", "worker_signed_in", "staff_hidden",
         "help", "help_back"]
VERDICTS = {"verdict_eligible_card": "eligible", "verdict_already_voted": "already_voted",
            "verdict_underage": "underage", "verdict_deceased": "deceased", "verdict_suspended": "suspended",
            "verdict_not_found": "not_found", "verdict_invalid_code": "invalid_code",
            "verdict_card_not_trusted": "card_not_trusted", "code_corrected": "underage"}
SCREENS = {"sign_in": "sign_in", "wrong_pin": "sign_in", "ready": "ready", "done": "done", "escalation": "escalation",
           "escalation_incomplete": "escalation", "cases": "cases", "withdraw_asked": "cases", "withdraw_kept": "cases",
           "withdrawn": "cases", "reader_unplugged": "ready", "cases_left": "ready",
           "staff": "staff", "worker_added": "staff", "back_to_ready": "ready", "locked": "sign_in",
           "worker_signed_in": "ready", "staff_hidden": "ready", "help": "help", "help_back": "ready", **{step: "verdict" for step in VERDICTS},
           "verdict_not_found": "ready", "verdict_invalid_code": "ready"}
NOTICES = {"wrong_pin": "wrong_pin", "escalation_incomplete": "form_incomplete", "reader_unplugged": "reader_unplugged",
           "worker_added": "worker_added"}


# Both languages at both sizes: the 7" touchscreen (800x480) and a 10" one (1280x800).
@pytest.mark.parametrize("lang,reader,window", [("fa", "pcsc", "800x480"), ("en", "simulated", "800x480"),
                                                ("fa", "simulated", "1280x800"), ("en", "pcsc", "1280x800")])
def test_every_screen_and_verdict_through_the_real_app(request: pytest.FixtureRequest, tmp_path: Path, lang: str,
                                                       reader: str, window: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    if reader == "pcsc":
        request.getfixturevalue("pcscd")
    out = tmp_path / "shots"
    report = drive(lang, out, window=window, pcsc=reader == "pcsc")
    results = report["results"]
    assert isinstance(results, list)
    assert report["errors"] == []   # every touch reached its widget
    # No reader can be pulled out of pcscd here: the PC/SC run leaves the cases screen instead.
    want = [("cases_left" if s == "reader_unplugged" and reader == "pcsc" else s) for s in STEPS]
    assert [r["step"] for r in results] == want
    for step in results:
        assert step["ok"], step
        assert step["screen"] == SCREENS[step["step"]], step
        if step["step"] in VERDICTS:
            assert step["verdict"] == VERDICTS[step["step"]], step
        if step["step"] in NOTICES:
            assert step["notice"] == NOTICES[step["step"]], step
        assert step["clipped"] == [], step   # no text cut off, nothing pushed out of its box
        assert step["small"] == [], step     # every touch target 48 px or more (9 mm on the 7" screen)
    by = {r["step"]: r for r in results}
    # Ready says who is signed in: the head, then the poll worker the head added.
    assert "رئیس شعبه" in by["ready"]["who"] and "زهرا کاظمی" in by["worker_signed_in"]["who"]
    # The help screen explains every verdict by the words the verdict screen uses, the faults, and whom to call.
    words = {"fa": FA, "en": EN}[lang]
    shown_help = by["help"]["help"]
    assert all(any(line.startswith(words[f"verdict.{v}"] + ":") for line in shown_help) for v in VERDICTS.values())
    assert words["help.technician"] in shown_help and len(shown_help) == 2 + 8 + 5 + 1
    # Done names who was recorded and counts down to Ready.
    assert PEOPLE["eligible"].first in by["done"]["name"] and by["done"]["countdown"] != ""
    # Each verdict its own colour and icon, its words at 40 px or more, and a line saying what to do next.
    verdicts = [by[step] for step in VERDICTS if step != "code_corrected"]
    assert len({tuple(v["band"]) for v in verdicts}) == len({v["icon"] for v in verdicts}) == 8
    assert all(v["words_px"] >= 40 and v["next_step"] for v in verdicts), verdicts
    # The mistyped code stays in the box, with no referral offered for it; the not-found one keeps its referral.
    assert (by["verdict_invalid_code"]["referral"], by["verdict_not_found"]["referral"]) == (False, True)
    assert by["code_corrected"]["verdict"] == "underage"    # one digit deleted and typed again on the keypad
    assert by["verdict_eligible_card"]["reader"] == "card_present"
    assert by["verdict_already_voted"]["reader"] == "no_card"   # typed on the keyboard after the card came out
    # The case holds what was typed and picked, in the boxes a person sees labelled with each field.
    assert by["cases"]["case"][:3] == ["مریم", "رضایی", "حسن"]
    assert by["cases"]["case"][3] == f"{jdatetime.date.today().year - 35}/05/10"   # the 36th year, 5th month, 10th day
    assert by["cases"]["case"][4] == "456"
    shots = sorted(p.name for p in out.iterdir())
    assert len(shots) == len(STEPS) and all(name.startswith(lang) for name in shots)
