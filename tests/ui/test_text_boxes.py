"""The real apps' text boxes stop at the limits the core and the wire accept, whatever is typed on a keyboard.

Before, a box took any length and any line break: staff typed a note or a reason in full, and were then told
the form was wrong (or, for an undo reason, the text went into the ledger and the peers refused it).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_world
from kiosk.core.staff import Role

REPO = Path(__file__).resolve().parents[2]
PIN = "135790"


def _drive(which: str, state: Path, tmp: Path) -> dict[str, object]:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    env = {**os.environ, "KIVY_HOME": str(tmp / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                           str(REPO / "tests" / "ui" / "drive_text_limits.py"), which, str(state), str(tmp / "shots"),
                           PIN], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    results = report["results"]
    assert isinstance(results, list) and all(step["ok"] for step in results), results
    return report


def test_the_kiosks_boxes_keep_at_most_what_the_core_accepts(tmp_path: Path) -> None:
    installed = make_world(tmp_path).installed()
    installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, PIN)
    kept = _drive("kiosk", installed.state, tmp_path)["kept"]
    assert kept == {
        "sign_in_pin": "13579024",                       # digits only, eight at most
        "first_name": "ز" * 64,                          # a name on the case form: 64 characters
        # The note is one line, as the box shows it: the line break and the tab become spaces, 300 in all.
        "note": ("کارت را در خانه جا گذاشته است شناسنامه همراه دارد " + "ی" * 400)[:300],
        "staff_name": ("زهرا کاظمی" + "ی" * 70)[:64],   # one line, 64 characters
        "staff_pin": "13579024",
        "staff_pin_keypad": "۱۳۵۷۹۰۲۴",                 # the Persian keypad types Persian digits, eight at most
    }


def test_the_consoles_reason_box_keeps_one_line_of_at_most_200_characters(tmp_path: Path) -> None:
    kept = _drive("console", tmp_path, tmp_path)["kept"]
    assert kept == {"sign_in_pin": "13579024", "reason": ("مدارک شناسایی کافی نیست " + "ی" * 250)[:200]}
