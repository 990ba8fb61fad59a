"""Staff PINs: scrypt hashes, growing lock-outs that survive a restart, digits in any script."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.core.staff import Granted, Locked, NoSuchAccount, Role, WrongPin
from kiosk.store.staff import PinRefused, StaffBook
from kiosk.trust.sealed import Locked as SealLocked
from helpers import data_keys


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_right_pin_in_any_digit_script_signs_in_and_the_file_holds_no_pin(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json", data_keys())
    book.set_pin("head", "رئیس شعبه", Role.HEAD, "۴۸۲۹۱۷")
    assert book.sign_in("head", "482917") == Granted("head", Role.HEAD)
    assert book.sign_in("head", "۴۸۲۹۱۷") == Granted("head", Role.HEAD)
    raw = (tmp_path / "staff.json").read_text()
    assert "482917" not in raw and "۴۸۲۹۱۷" not in raw
    assert book.accounts() == [("head", "رئیس شعبه", Role.HEAD)]


def test_wrong_pins_lock_the_account_longer_each_time_even_across_a_restart(tmp_path: Path) -> None:
    clock, keys = Clock(), data_keys()
    book = StaffBook(tmp_path / "staff.json", keys, clock)
    book.set_pin("w1", "worker", Role.WORKER, "123456")
    assert book.sign_in("w1", "0000") == WrongPin(2, 0.0)
    assert book.sign_in("w1", "0000") == WrongPin(1, 0.0)
    assert book.sign_in("w1", "0000") == WrongPin(0, 30.0)
    restarted = StaffBook(tmp_path / "staff.json", keys, clock)
    assert restarted.sign_in("w1", "123456") == Locked(30.0)  # even the right PIN waits
    clock.now += 30
    assert restarted.sign_in("w1", "0000") == WrongPin(0, 60.0)
    clock.now += 60
    assert restarted.sign_in("w1", "123456") == Granted("w1", Role.WORKER)
    assert restarted.sign_in("w1", "0000") == WrongPin(2, 0.0)  # a success clears the count


def test_the_head_resets_a_lockout_and_unknown_accounts_are_told_apart(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json", data_keys())
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
        StaffBook(tmp_path / "staff.json", data_keys()).set_pin("x", "x", Role.WORKER, pin)


def test_garbage_typed_at_sign_in_counts_as_a_wrong_pin(tmp_path: Path) -> None:
    book = StaffBook(tmp_path / "staff.json", data_keys())
    book.set_pin("w1", "worker", Role.WORKER, "123456")
    assert isinstance(book.sign_in("w1", "abc"), WrongPin)
    assert json.loads((tmp_path / "staff.json").read_text())["staff"]["1"]["failures"] == 1


# -- sealed to the device's data key (issue 14) ----------------------------------------------------------------------

def test_a_copied_staff_file_holds_no_name_and_no_hash_to_guess_against(tmp_path: Path) -> None:
    keys = data_keys()
    book = StaffBook(tmp_path / "staff.json", keys.locked())   # a locked device: the technician sets the PIN
    book.set_pin("head", "مریم رضایی", Role.HEAD, "482917")
    assert book.has_accounts()
    with pytest.raises(SealLocked):
        book.accounts()   # a locked device reads no name
    raw = (tmp_path / "staff.json").read_text("utf-8")
    record = json.loads(raw)["staff"]["1"]
    assert set(record) == {"account", "role", "sealed", "failures", "locked_until"}
    assert "مریم" not in raw and "\\u0645\\u0631" not in raw
    unlocked = StaffBook(tmp_path / "staff.json", keys)
    assert unlocked.accounts() == [("head", "مریم رضایی", Role.HEAD)]
    assert unlocked.sign_in("head", "482917") == Granted("head", Role.HEAD)


def test_a_staff_file_of_another_device_or_a_record_moved_to_another_account_opens_nothing(tmp_path: Path) -> None:
    keys = data_keys()
    book = StaffBook(tmp_path / "staff.json", keys)
    book.set_pin("head", "head", Role.HEAD, "482917")
    book.set_pin("w1", "worker", Role.WORKER, "135790")
    other_device = StaffBook(tmp_path / "staff.json", data_keys())
    assert other_device.accounts() == [] and other_device.sign_in("head", "482917") == NoSuchAccount()
    data = json.loads((tmp_path / "staff.json").read_text("utf-8"))
    data["staff"]["2"]["sealed"] = data["staff"]["1"]["sealed"]   # the head's PIN put on the worker's account
    (tmp_path / "staff.json").write_text(json.dumps(data), encoding="utf-8")
    assert book.sign_in("w1", "482917") == NoSuchAccount()
    assert book.accounts() == [("head", "head", Role.HEAD)]


def test_sign_in_wrong_pin_and_lock_out_are_audit_events_by_account_id(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    import logging
    caplog.set_level(logging.INFO, logger="kiosk")
    book = StaffBook(tmp_path / "staff.json", data_keys(), Clock())
    book.set_pin("w1", "زهرا کاظمی", Role.WORKER, "123456")
    for _ in range(3):
        book.sign_in("w1", "000000")
    book.sign_in("w1", "123456")   # locked out: refused
    book.reset_lockout("w1")
    book.sign_in("w1", "123456")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kiosk"]
    assert [line["event"] for line in lines] == ["U123", "U121", "U121", "U121", "U122", "U122", "U124", "U120"]
    assert all(line["account"] == "w1" for line in lines)
    assert not any("زهرا" in r.getMessage() or "کاظمی" in r.getMessage() for r in caplog.records)
