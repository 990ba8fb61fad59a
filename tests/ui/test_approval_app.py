"""The real kiosk app and a real console: an approval the registry contradicts is recorded only on the head's word."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.ui.text import EN, FA
from screenshots import drive_approval


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_an_approved_deceased_code_needs_the_branch_head_on_the_real_app(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_approval(lang, tmp_path)
    results = report["results"]
    assert isinstance(results, list)
    assert report["errors"] == []   # every touch reached its widget
    assert [r["step"] for r in results] == ["linked", "case_delivered", "decision_arrived", "cases_decided",
                                           "approval_shown", "no_reason", "worker_pin", "head_confirmed"]
    for step in results:
        assert step["ok"], step
        assert step["clipped"] == [], step   # every screen fits 800×480, the approval's with the head's part shown
        assert step["small"] == [], step     # every touch target is 48 px or more
    by = {r["step"]: r for r in results}
    # Before anything is recorded, staff see the registry's verdict on the approved code.
    assert by["approval_shown"]["verdict"] == "deceased"
    assert by["approval_shown"]["shown"] == {"fa": "فوت شده", "en": "Deceased"}[lang]
    assert by["worker_pin"]["screen"] == "approval"   # the worker's own PIN does not stand in for the head's
    # What staff read on the approval screen at each refusal, and the reason the preset button put in the box.
    words = FA if lang == "fa" else EN
    assert by["approval_shown"]["notice_text"] == words["notice.head_confirmation"]
    assert by["no_reason"]["notice_text"] == words["notice.approval_reason"]
    assert by["worker_pin"]["notice_text"].startswith(words["notice.wrong_pin"].split("{detail}")[0])
    assert by["worker_pin"]["reason"] == words["approval.reason.registry"]
    assert (by["head_confirmed"]["on_screen"], by["head_confirmed"]["title"]) == ("done", words["done.title"])
    [reason] = report["check_in_reasons"]
    assert isinstance(reason, str) and "deceased" in reason and "branch head head" in reason
    picked = {"fa": "ثبت احوال اطلاعات را اصلاح کرده است", "en": "Civil registration has corrected the record"}
    assert reason.endswith(picked[lang])
    assert len(list(tmp_path.glob("approval-*.png"))) == len(results)
