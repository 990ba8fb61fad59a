"""A new PIN is at least 6 digits (a 4-digit one falls to an offline guess from a copied staff.json in a minute).

Accounts set before keep signing in with their 4 digits until the head or the technician sets a new PIN:
refusing them on election morning would lock the branch out of its own kiosk.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.staff import Granted, Role, WrongPin
from kiosk.core.text_limits import TextRefused
from kiosk.store.staff import PinRefused, StaffBook
from helpers import World, data_keys


@pytest.mark.parametrize("pin", ["1357", "13579", "۱۳۵۷", "1234 5"])
def test_a_pin_shorter_than_six_digits_is_refused_and_nothing_is_written(tmp_path: Path, pin: str) -> None:
    with pytest.raises(PinRefused, match="^a PIN is 6 to 8 digits$"):
        StaffBook(tmp_path / "staff.json", data_keys()).set_pin("head", "رئیس شعبه", Role.HEAD, pin)
    assert not (tmp_path / "staff.json").exists()


@pytest.mark.parametrize("pin", ["135790", "۱۳۵۷۹۰۲۴"])
def test_six_to_eight_digits_in_any_script_are_a_pin(tmp_path: Path, pin: str) -> None:
    book = StaffBook(tmp_path / "staff.json", data_keys())
    book.set_pin("head", "رئیس شعبه", Role.HEAD, pin)
    assert book.sign_in("head", pin) == Granted("head", Role.HEAD)


def test_an_account_set_with_four_digits_before_still_signs_in_with_them(tmp_path: Path) -> None:
    # A staff.json as the earlier software wrote it: scrypt(n=2^14, r=8, p=1) of "1357" with a random salt.
    salt = os.urandom(16)
    digest = hashlib.scrypt(b"1357", salt=salt, n=1 << 14, r=8, p=1, maxmem=64 << 20, dklen=32)
    record = {"account": "head", "name": "رئیس شعبه", "role": "head", "salt": salt.hex(), "hash": digest.hex(),
              "failures": 0, "locked_until": 0.0}
    (tmp_path / "staff.json").write_text(json.dumps({"staff": {"1": record}}), encoding="utf-8")
    book = StaffBook(tmp_path / "staff.json", data_keys())
    assert book.sign_in("head", "1358") == WrongPin(2, 0.0)
    assert book.sign_in("head", "۱۳۵۷") == Granted("head", Role.HEAD)
    # The first use of the unlocked book sealed it: neither the name nor the hash stays in clear.
    raw = (tmp_path / "staff.json").read_text("utf-8")
    assert digest.hex() not in raw and salt.hex() not in raw and "رئیس" not in raw and "\\u0631" not in raw
    assert book.accounts() == [("head", "رئیس شعبه", Role.HEAD)]


@pytest.mark.parametrize("name, message", [
    ("زهرا\nکاظمی", "the name holds a line break; write it on one line"),
    ("ز" * 65, "the name is 65 characters long; at most 64 fit"),
    ("   ", "the name is empty"),
])
def test_a_staff_name_the_sign_in_list_cannot_show_is_refused(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(TextRefused) as refused:
        StaffBook(tmp_path / "staff.json", data_keys()).set_pin("w1", name, Role.WORKER, "246802")
    assert str(refused.value) == message
    assert not (tmp_path / "staff.json").exists()


def _provision_staff(state: Path, pin: str, name: str = "رئیس شعبه") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning.device_cli", "staff", "--state", str(state),
                           "--account", "head", "--name", name], input=pin + "\n", capture_output=True, text=True,
                          timeout=60)


def test_kiosk_provision_staff_refuses_a_four_digit_pin_in_one_line(world: World) -> None:
    state = world.installed("k1", unlocked=False).state
    done = _provision_staff(state, "1357")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "kiosk-provision: refused: a PIN is 6 to 8 digits\n")
    assert not (state / "staff.json").exists()
    named = _provision_staff(state, "135790", name="x" * 65)
    assert (named.returncode, named.stderr) == (
        1, "kiosk-provision: refused: the name is 65 characters long; at most 64 fit\n")
    assert _provision_staff(state, "135790").returncode == 0
