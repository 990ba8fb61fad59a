"""The real console app under Xvfb on a fake case book fed from another thread: every screen, alert and banner.

Cases over the real link (a kiosk process, mutual TLS, the service) are in test_console_link.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drive_console import STEPS, drive_console

# Persian runs with no audio device at all (an unknown SDL driver), English with SDL's dummy device:
# the console must carry on silently in the first and play in the second.
AUDIO = {"fa": "absent", "en": "dummy"}


@pytest.mark.parametrize("lang,window", [("fa", "800x480"), ("en", "800x480"), ("fa", "1280x800"),
                                         ("en", "1280x800")])
def test_the_representative_decides_cases_through_the_real_console(tmp_path: Path, lang: str, window: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    out = tmp_path / "shots"
    report = drive_console(lang, out, window=window, audio=AUDIO[lang])
    results = report["results"]
    assert report["errors"] == []   # every touch reached its widget
    assert len(results) == STEPS
    for step in results:
        assert step["ok"], step
        assert step["screen"] == step["want_screen"], step
        assert step["clipped"] == [], step  # nothing cut off or pushed out of its box
        assert step["small"] == [], step    # every touch target is 48 px or more
    by = {s["step"]: s for s in results}
    assert by["sign_in"]["banner"] and by["sign_in"]["alert"] == 2  # cases waiting since start-up
    assert by["wrong_pin"]["notice"] == "wrong_pin"
    assert by["queue"]["alert"] == 0 and by["queue"]["banner"] == ""
    new = by["new_case"]
    assert new["alert"] == 1 and new["banner"] and new["alerts_attempted"] == by["queue"]["alerts_attempted"] + 1
    assert by["case"]["banner"]  # on every screen until the queue is looked at again
    assert by["code_typed"]["screen"] == "case" and by["code_typed"]["banner"]
    assert by["approved"]["notice"] == "decided" and by["approved"]["banner"] == ""
    assert by["reject_without_reason"]["notice"] == "decision_incomplete"
    assert by["reject_without_reason"]["problems"] == ["reason"]
    assert by["rejected"]["notice"] == "decided"
    assert by["case_withdrawn"]["notice"] == "case_gone"
    # The disputed case says which check-in an approval would undo (the device, and its number in the screen's digits).
    assert by["case"]["disputed"] == ""
    assert "c0ffee0012345678" in by["case_three"]["disputed"]
    assert {"fa": "۴۱", "en": "41"}[lang] in by["case_three"]["disputed"]
    assert report["decisions"] == [["E-AB12CD-0001", "approve", "0499370899", ""],
                                   ["E-AB12CD-0002", "reject", "", "مدارک شناسایی کافی نیست"]]
    assert all(by[s]["duplicates"] == "" for s in ("sign_in", "queue", "kiosks", "locked"))
    reported = {"fa": "ثبت تکراری در شعبه: AB12CD، C0FFEE", "en": "Double check-in reported: AB12CD, C0FFEE"}[lang]
    for step in ("duplicate_reported", "queue_with_duplicates", "kiosks_duplicates"):  # locked or not, any screen
        assert by[step]["duplicates"] == reported, by[step]
    assert by["duplicates_acknowledged"]["duplicates"] == ""
    # Records a kiosk holds that count for nothing: named on every screen, locked or not, and in their column.
    assert all(by[s]["anomalies"] == "" for s in ("sign_in", "queue", "kiosks", "locked", "duplicates_acknowledged"))
    irregular = {"fa": "ثبت ناهنجار در شعبه: AB12CD", "en": "Irregular records reported by: AB12CD"}[lang]
    for step in ("anomaly_reported", "anomaly_queue", "anomaly_locked", "anomaly_signed_in", "kiosks_anomalies"):
        assert by[step]["anomalies"] == irregular, by[step]
        assert by[step]["duplicates"] == ""     # not a double check-in
    header, *rows = by["kiosks_anomalies"]["kiosk_rows"]
    column = header.index({"fa": "ثبت ناهنجار", "en": "Irregular"}[lang])
    assert [(row[0], row[column]) for row in rows[:3]] == [("AB12CD", {"fa": "۱", "en": "1"}[lang]), ("C0FFEE", ""),
                                                           ("FF0011", "")]
    last = results[-1]
    assert last["alerts_attempted"] == 2
    assert last["alerts_played"] == (0 if AUDIO[lang] == "absent" else 2)
    shots = sorted(p.name for p in out.iterdir())
    assert len(shots) == STEPS and all(name.startswith(f"console-{lang}-") for name in shots)
