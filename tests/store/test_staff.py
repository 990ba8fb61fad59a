"""Staff PINs: scrypt hashes, growing lock-outs that survive a restart, digits in any script."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.core.staff import Granted, Locked, NoSuchAccount, Role, WrongPin
from kiosk.store.staff import PinRefused, StaffBook


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_right_pin_in_any_digit_script_signs_in_and_the_file_holds_no_pin(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json")
    book.set_pin("head", "رئیس شعبه", Role.HEAD, "۴۸۲۹۱۷")
    assert book.sign_in("head", "482917") == Granted("head", Role.HEAD)
    assert book.sign_in("head", "۴۸۲۹۱۷") == Granted("head", Role.HEAD)
    raw = (tmp_path / "staff.json").read_text()
    assert "482917" not in raw and "۴۸۲۹۱۷" not in raw
    assert book.accounts() == [("head", "رئیس شعبه", Role.HEAD)]


def test_wrong_pins_lock_the_account_longer_each_time_even_across_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    book = StaffBook(tmp_path / "staff.json", clock)
    book.set_pin("w1", "worker", Role.WORKER, "123456")
    assert book.sign_in("w1", "0000") == WrongPin(2, 0.0)
    assert book.sign_in("w1", "0000") == WrongPin(1, 0.0)
    assert book.sign_in("w1", "0000") == WrongPin(0, 30.0)
    restarted = StaffBook(tmp_path / "staff.json", clock)
    assert restarted.sign_in("w1", "123456") == Locked(30.0)  # even the right PIN waits
    clock.now += 30
    assert restarted.sign_in("w1", "0000") == WrongPin(0, 60.0)
    clock.now += 60
    assert restarted.sign_in("w1", "123456") == Granted("w1", Role.WORKER)
    assert restarted.sign_in("w1", "0000") == WrongPin(2, 0.0)  # a success clears the count


def test_the_head_resets_a_lockout_and_unknown_accounts_are_told_apart(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json")
    book.set_pin("w1", "worker", Role.WORKER, "123456")
    for _ in range(4):
        book.sign_in("w1", "9999")
    assert isinstance(book.sign_in("w1", "123456"), Locked)
    book.reset_lockout("w1")
    assert book.sign_in("w1", "123456") == Granted("w1", Role.WORKER)
    assert book.sign_in("nobody", "123456") == NoSuchAccount()


@pytest.mark.parametrize("pin", ["123", "1234", "12345", "123456789", "12a456", "", "    "])
def test_a_pin_that_is_not_6_to_8_digits_is_refused_when_set(tmp_path: Path, pin: str) -> None:
    with pytest.raises(PinRefused):
        StaffBook(tmp_path / "staff.json").set_pin("x", "x", Role.WORKER, pin)


def test_garbage_typed_at_sign_in_counts_as_a_wrong_pin(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json")
    book.set_pin("w1", "worker", Role.WORKER, "123456")
    assert isinstance(book.sign_in("w1", "abc"), WrongPin)
    assert json.loads((tmp_path / "staff.json").read_text())["staff"]["1"]["failures"] == 1
