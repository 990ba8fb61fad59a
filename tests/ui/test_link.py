"""The real kiosk app and a real console on loopback: a referred person's approval comes back and is recorded.

Every kiosk action is a touch in the window or keys typed into a touched box (tests/ui/drive_link.py).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.ui.text import EN, FA
from screenshots import drive_link

STEPS = ["linked", "case_delivered", "decision_arrived", "cases_decided", "approval_shown", "recorded",
         "already_voted", "console_sees_delivery"]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_case_goes_to_the_console_and_its_approval_checks_the_person_in(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_link(lang, tmp_path)
    results = report["results"]
    assert isinstance(results, list)
    assert report["errors"] == []   # every touch reached its widget
    assert [r["step"] for r in results] == STEPS
    for step in results:
        assert step["ok"], step
    words = FA if lang == "fa" else EN
    by = {r["step"]: r for r in results}
    assert by["linked"]["rep"] == "online" and by["linked"]["shown"] == "ready"
    assert (by["case_delivered"]["shown"], by["case_delivered"]["title"]) == ("cases", words["cases.title"])
    # What staff read on Ready when the decision comes back, and what the approval screen says before recording.
    assert by["decision_arrived"]["notice_text"] == words["notice.decision_arrived"]
    assert by["cases_decided"]["shown"] == "cases"
    assert by["approval_shown"]["shown"] == "approval"
    assert by["approval_shown"]["verdict_text"] == words["verdict.not_found"]
    assert (by["recorded"]["shown"], by["recorded"]["title"]) == ("done", words["done.title"])
    assert (by["already_voted"]["shown"], by["already_voted"]["verdict_text"]) == \
        ("verdict", words["verdict.already_voted"])
    assert by["console_sees_delivery"]["delivered"] == [True]
    assert len(list(tmp_path.glob("link-*.png"))) == len(STEPS)
