"""One tap, one press: a tap that reaches Kivy as a click and as evdev multitouch types one digit, not two."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import make_world
from kiosk.core.staff import Role
from screenshots import _under_xvfb


def _one_tap(tmp: Path, setup: str) -> dict[str, object]:
    world = make_world(tmp)
    installed = world.installed()
    installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, "135790")
    fifo = tmp / "event0"
    os.mkfifo(fifo)
    return _under_xvfb("drive_touch.py", [str(installed.state), str(fifo), setup], tmp, "800x480")


@pytest.mark.parametrize("setup", ["kivy", "app"])
def test_one_tap_through_both_of_the_pis_paths_types_one_digit(tmp_path: Path, setup: str) -> None:
    for tool in ("xvfb-run", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (./dev test installs it when run as root)")
    report = _one_tap(tmp_path, setup)
    if setup == "kivy":
        # The control: Kivy's own input setup hears the tap on both paths and types «۱» twice.
        assert {"HIDInputMotionEventProvider", "MouseMotionEventProvider"} <= set(report["providers"]), report
        assert sorted(report["touches"]) == ["mouse", "touchscreen"], report
        assert report["pin"] == "۱۱", report
    else:
        # The app as it ships reads one path: the same tap is one touch and types one digit.
        assert "HIDInputMotionEventProvider" not in report["providers"], report
        assert report["touches"] == ["mouse"], report
        assert report["pin"] == "۱", report
