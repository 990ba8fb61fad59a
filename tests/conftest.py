"""Fixtures for the whole suite."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import World, make_world  # noqa: E402
from kiosk.logbook import stop_audit_log  # noqa: E402
from no_skip import pytest_runtest_logreport, pytest_sessionfinish, pytest_terminal_summary  # noqa: E402,F401


@pytest.fixture(autouse=True)
def no_audit_log_left_open() -> Iterator[None]:
    """A command run in-process keeps its device's audit log open; close it so the next test logs as usual."""
    yield
    stop_audit_log()


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An authority with the small known registry; devices are made per test."""
    return make_world(tmp_path)

