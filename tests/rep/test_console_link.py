"""A case from the network: a kiosk process escalates over mutual TLS on loopback to the real console app.

The representative decides by touches and keys on the console's screen; the decision reaches the kiosk,
which records the approved person and refuses the rejected one. No fake case book anywhere.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drive_console_link import APPROVED_CODE, REASON, drive_console_link


def test_a_kiosks_case_is_decided_on_the_console_screen_and_the_decision_reaches_the_kiosk(tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_console_link("fa", tmp_path)
    results = report["results"]
    assert [r["step"] for r in results] == [
        "sign_in", "queue", "kiosk_linked", "case_arrives", "case_opened", "code_typed", "approved",
        "decision_at_kiosk", "kiosk_checked_in", "delivery_seen", "second_case_arrives", "second_case_opened",
        "reject_without_reason", "reason_typed", "rejected", "rejection_at_kiosk", "kiosk_refused"]
    for step in results:
        assert step["ok"], step
    by = {r["step"]: r for r in results}
    first, second = report["raised"]
    # The kiosk's case shows in the queue, with the alert, before anyone touches it.
    assert first in by["case_arrives"]["open"] and by["case_arrives"]["alert"] >= 1
    assert by["approved"]["open"] == [] and by["second_case_arrives"]["open"] == [second]
    assert by["reject_without_reason"]["problems"] == ["reason"]
    # What the representative typed is what the console signed and sent.
    assert report["decided"][first] == ["approve", APPROVED_CODE, ""]
    assert report["decided"][second] == ["reject", "", REASON]
    # And the kiosk acted on it: the approved person recorded, the rejected one not.
    assert report["at_kiosk"] == {first: "Recorded", second: "NotApproved"}
    assert len(list(tmp_path.glob("console-link-fa-*.png"))) == len(results)
