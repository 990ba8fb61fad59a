"""Skips are failures where nothing can be missing: see `./dev test`, which sets KIOSK_TEST_NO_SKIP=1."""
from __future__ import annotations

import os
from typing import Any

import pytest


# On a fresh Debian machine run as root, `./dev test` has installed everything every test needs, so a
# skip there hides a test that did not run: `./dev` sets KIOSK_TEST_NO_SKIP=1 and the run fails on any.
NO_SKIP = os.environ.get("KIOSK_TEST_NO_SKIP") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if NO_SKIP and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if NO_SKIP and _skipped:
        terminalreporter.section("skips are failures here (fresh Debian machine, run as root)", red=True)
        for line in _skipped:
            terminalreporter.write_line(line)
