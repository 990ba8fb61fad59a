"""`./dev test` as root on Debian fails on a skipped test: a skip there is a test that silently did not run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent

SAMPLE = '''
import pytest

def test_runs():
    assert 1 + 1 == 2

def test_skips():
    pytest.skip("reader missing")
'''


def run_sample(tmp_path: Path, no_skip: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_TEST_NO_SKIP"}
    env["PYTHONPATH"] = str(TESTS)
    if no_skip is not None:
        env["KIOSK_TEST_NO_SKIP"] = no_skip
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no_skip", "--rootdir", str(tmp_path),
         "-c", os.devnull, str(tmp_path / "test_sample.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_the_run_where_nothing_may_be_missing(tmp_path: Path) -> None:
    run = run_sample(tmp_path, "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "test_sample.py::test_skips: Skipped: reader missing" in run.stdout


def test_elsewhere_a_skip_is_reported_but_the_run_passes(tmp_path: Path) -> None:
    run = run_sample(tmp_path, None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout


def test_dev_test_turns_the_check_on_as_root_on_debian() -> None:
    dev = (TESTS.parent / "dev").read_text(encoding="utf-8")
    assert "export KIOSK_TEST_NO_SKIP=1" in dev
    assert "iproute2" in dev
