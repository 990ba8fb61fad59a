"""The real app on a full state disk: a notice in Persian and English instead of a crash, and nothing recorded.

Before, the "database or disk is full" of the ledger's write reached Kivy's main loop and ended the app
(the flow catches OSError only); the branch was left with a dead kiosk and no word of why.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from disks import small_disk
from helpers import PEOPLE, make_world
from kiosk.core.staff import Role
from kiosk.state import Installed

REPO = Path(__file__).resolve().parents[2]
PIN = "135790"
TITLE = {"fa": "حافظه دستگاه پر است", "en": "The device's storage is full"}
CALL = {"fa": "با کارشناس فنی تماس بگیرید.", "en": "Call the technician."}


def _drive(state: Path, out: Path, lang: str, tmp: Path) -> dict[str, object]:
    env = {**os.environ, "KIVY_HOME": str(tmp / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                           str(REPO / "tests" / "ui" / "drive_disk_full.py"), str(state), str(out), lang, PIN,
                           PEOPLE["eligible"].code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]   # the app ran to the end: it did not die on the full disk
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_check_in_on_a_full_disk_shows_the_notice_and_records_nothing(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    world = make_world(tmp_path)
    with small_disk(tmp_path / "kiosk1", 4096) as state:
        installed = world.installed("kiosk1")
        assert installed.state == state
        Installed.open(state).staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, PIN)
        report = _drive(state, tmp_path / "shots", lang, tmp_path)
    assert report["errors"] == []
    results = report["results"]
    assert isinstance(results, list)
    by = {r["step"]: r for r in results}
    assert list(by) == ["signed_in", "eligible", "disk_filled", "record_on_full_disk", "notice_closed",
                        "recorded_after_room_made"]
    for step in results:
        assert step["ok"], step
    full = by["record_on_full_disk"]
    # Whatever the screen's language, the notice says it in Persian, then in English.
    shown = full["notice"]
    assert TITLE["fa"] in shown and TITLE["en"] in shown and CALL["fa"] in shown and CALL["en"] in shown
    assert shown.index(TITLE["fa"]) < shown.index(TITLE["en"])
    # Not recorded, and not counted: the voter is still on the verdict screen, to record once there is room.
    assert (full["screen"], full["checkins_shown"], full["in_ledger"]) == ("verdict", 0, 0)
    after = by["recorded_after_room_made"]
    assert (after["screen"], after["checkins_shown"], after["in_ledger"]) == ("done", 1, 1)
