"""The technician sets the branch head's PIN at provisioning, from stdin, never from the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.core.staff import Granted, Role
from kiosk.store.staff import StaffBook
from provisioning.device import init_device


def _staff(state: Path, pin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.device_cli", "staff", "--state", str(state),
                           "--account", "head", "--name", "رئیس شعبه", *extra],
                          input=pin + "\n", capture_output=True, text=True, timeout=60)


def test_the_head_pin_is_set_from_stdin_and_signs_in(tmp_path: Path) -> None:
    state = tmp_path / "STATE"
    init_device(state)
    done = _staff(state, "۷۳۱۹۰۴")
    assert done.returncode == 0, done.stderr
    assert "731904" not in done.stdout + done.stderr
    assert StaffBook(state / "staff.json").sign_in("head", "731904") == Granted("head", Role.HEAD)


def test_a_bad_pin_or_an_uninitialised_device_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    state = tmp_path / "STATE"
    refused = _staff(state, "1234")
    assert refused.returncode == 1 and "not initialised" in refused.stderr
    init_device(state)
    short = _staff(state, "12")
    assert short.returncode == 1 and "6 to 8 digits" in short.stderr
    assert not (state / "staff.json").exists()
