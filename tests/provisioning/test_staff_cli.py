"""The technician sets the branch head's PIN at provisioning, from stdin, never from the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import World
from kiosk.core.staff import Granted, Role
from kiosk.state import Installed
from provisioning.device import init_device


def _staff(state: Path, pin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.device_cli", "staff", "--state", str(state),
                           "--account", "head", "--name", "رئیس شعبه", *extra],
                          input=pin + "\n", capture_output=True, text=True, timeout=60)


def test_the_head_pin_is_set_from_stdin_on_a_locked_device_and_signs_in_once_unlocked(world: World) -> None:
    locked = world.installed("k1", unlocked=False)
    done = _staff(locked.state, "۷۳۱۹۰۴")
    assert done.returncode == 0, done.stderr
    assert "731904" not in done.stdout + done.stderr
    assert world.unlock(Installed.open(locked.state)).staff_book().sign_in("head", "731904") == \
        Granted("head", Role.HEAD)


def test_a_bad_pin_or_an_uninitialised_device_is_refused_and_nothing_is_written(tmp_path: Path, world: World) -> None:
    state = tmp_path / "STATE"
    refused = _staff(state, "1234")
    assert refused.returncode == 1 and "not initialised" in refused.stderr
    init_device(state)
    uninstalled = _staff(state, "731904")
    assert uninstalled.returncode == 1 and "install the election package first" in uninstalled.stderr
    installed = world.installed("k1", unlocked=False)
    short = _staff(installed.state, "12")
    assert short.returncode == 1 and "6 to 8 digits" in short.stderr
    assert not (installed.state / "staff.json").exists()
