"""Fixtures for the whole suite."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# The day's unlock is remembered in RAM only (kiosk.store.unlock_memory): the suite's own folder under
# /dev/shm, inherited by every process a test starts, and gone at the end of the run.
if "KIOSK_UNLOCK_DIR" not in os.environ:
    _UNLOCKS = tempfile.mkdtemp(prefix="kiosk-test-unlock-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    os.environ["KIOSK_UNLOCK_DIR"] = _UNLOCKS
    atexit.register(shutil.rmtree, _UNLOCKS, True)

from helpers import World, make_world  # noqa: E402
from kiosk.logbook import stop_audit_log  # noqa: E402
from no_skip import pytest_runtest_logreport, pytest_sessionfinish, pytest_terminal_summary  # noqa: E402,F401


@pytest.fixture(autouse=True)
def no_audit_log_left_open() -> Iterator[None]:
    """A command run in-process keeps its device's audit log open; close it so the next test logs as usual."""
    yield
    stop_audit_log()


@pytest.fixture(autouse=True)
def unlocks_of_this_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test its own memory of the day's unlocks, as a fresh boot has (the processes it starts inherit it)."""
    folder = Path(tempfile.mkdtemp(prefix="test-", dir=os.environ["KIOSK_UNLOCK_DIR"]))
    monkeypatch.setenv("KIOSK_UNLOCK_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An authority with the small known registry; devices are made per test."""
    return make_world(tmp_path)

