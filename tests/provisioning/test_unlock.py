"""The start-of-day unlock by recovery code, and what a copy of a locked device's storage opens (issue 14)."""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.state import DeviceLocked, Installed, UnlockRefused
from kiosk.store.registry import Registry, RegistryError
from kiosk.trust.daykeys import RecoveryCodeRefused
from kiosk.cli import main as kiosk_main


def _mistyped(code: str) -> str:
    """The code with its fifth digit typed one higher, as a tired hand does."""
    return code[:4] + str((int(code[4]) + 1) % 10) + code[5:]


def test_a_fresh_install_is_locked_until_its_own_recovery_code_is_typed(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    locked = world.installed("k1", unlocked=False)
    other = world.installed("k2", unlocked=False)
    assert locked.locked
    assert kiosk_main(["check", "--state", str(locked.state), PEOPLE["eligible"].code]) == 1
    err = capsys.readouterr().err
    assert "the device is locked" in err and PEOPLE["eligible"].code not in err
    with pytest.raises(DeviceLocked):
        locked.open_registry()
    code = world.recovery_code(locked.claims.device_id)
    with pytest.raises(RecoveryCodeRefused):
        locked.unlock_with_code(_mistyped(code))
    with pytest.raises(RecoveryCodeRefused):
        locked.unlock_with_code(code[:-1])
    with pytest.raises(UnlockRefused):
        locked.unlock_with_code(world.recovery_code(other.claims.device_id))
    assert Installed.open(locked.state).locked   # none of the refusals unlocked anything
    spaced_persian = " ".join(code[i:i + 4] for i in range(0, 20, 4)).translate(str.maketrans("0123456789",
                                                                                               "۰۱۲۳۴۵۶۷۸۹"))
    assert not locked.unlock_with_code(spaced_persian).locked
    assert not Installed.open(locked.state).locked   # the next process of this boot finds it unlocked
    assert Installed.open(other.state).locked        # and the other kiosk is still locked


def test_a_reboot_locks_again_and_keeps_every_check_in(
        world: World, capsys: pytest.CaptureFixture[str], unlocks_of_this_test: Path) -> None:
    installed = world.installed("k1")
    code = PEOPLE["eligible"].code
    assert kiosk_main(["checkin", "--state", str(installed.state), code]) == 0
    capsys.readouterr()
    for remembered in unlocks_of_this_test.iterdir():   # a power cut: the RAM folder is empty after the boot
        remembered.unlink()
    assert Installed.open(installed.state).locked
    assert kiosk_main(["checkin", "--state", str(installed.state), code]) == 1
    world.unlock_state(installed.state)
    assert kiosk_main(["check", "--state", str(installed.state), code]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "already_voted"


def _candidate_keys(folder: Path) -> list[bytes]:
    """Every file's bytes, and every base64 string inside a JSON file, as a thief would try them."""
    found: list[bytes] = []

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    for path in folder.rglob("*"):
        if not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        data = path.read_bytes()
        found.append(data)
        try:
            texts = strings(json.loads(data))
        except ValueError:
            continue
        for text in texts:
            try:
                found.append(base64.b64decode(text, validate=True))
            except ValueError:
                pass
    return found


def test_a_copy_of_a_locked_kiosks_storage_opens_no_registry(world: World, tmp_path: Path) -> None:
    installed = world.installed("k1")   # unlocked and serving; the copy is taken while it runs
    copy = tmp_path / "copy"
    shutil.copytree(installed.state, copy, symlinks=True)
    registry = installed.package_dir / "registry.sqlite"
    tried = _candidate_keys(copy)
    assert len(tried) > 10
    opened = []
    for key in tried:
        if len(key) != 64:
            continue
        try:
            Registry(registry, key).close()
            opened.append(key)
        except RegistryError:
            pass
    assert opened == []
