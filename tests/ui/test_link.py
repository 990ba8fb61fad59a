"""The real kiosk app and a real console on loopback: a referred person's approval comes back and is recorded."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from screenshots import drive_link


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_case_goes_to_the_console_and_its_approval_checks_the_person_in(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_link(lang, tmp_path)
    results = report["results"]
    assert isinstance(results, list)
    assert [r["step"] for r in results] == ["linked", "case_delivered", "decision_arrived", "cases_decided",
                                           "approval_shown", "recorded", "already_voted", "console_sees_delivery"]
    for step in results:
        assert step["ok"], step
    assert results[0]["rep"] == "online"
    assert len(list(tmp_path.glob("link-*.png"))) == 8
