"""Double check-ins and branch sync on the kiosk's screens: the real app under Xvfb, and the status bar's words."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from kivy.clock import Clock

from helpers import World, data_keys
from kiosk.core.branch import PeerSeen, SyncStatus
from kiosk.core.flow import CheckInFlow, Notice, Screen
from kiosk.core.staff import Role
from kiosk.desk import Desk
from kiosk.store.staff import StaffBook
from kiosk.ui.app import KioskRoot
from kiosk.ui.bridge import FlowBridge
from kiosk.ui.text import EN, FA
from screenshots import drive_duplicates

STEPS = ["sign_in", "ready_duplicate", "verdict", "done", "ready_again", "found_on_cases", "ready_two", "duplicates",
         "acknowledged_one", "all_acknowledged", "sync_in_step", "sync_cut_off"]


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_a_double_check_in_is_shown_listed_and_acknowledged_through_the_real_app(tmp_path: Path, lang: str) -> None:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    report = drive_duplicates(lang, tmp_path)
    results = report["results"]
    assert report["errors"] == []   # every touch reached its widget
    assert isinstance(results, list) and [r["step"] for r in results] == STEPS
    for step in results:
        assert step["ok"], step
        assert step["clipped"] == [], step  # nothing cut off or pushed out of its box at 800x480
        assert step["small"] == [], step    # every touch target is 48 px or more
    by = {r["step"]: r for r in results}
    words = FA if lang == "fa" else EN
    count = {"fa": ("۱", "۲"), "en": ("1", "2")}[lang]
    assert by["sign_in"]["sync"].splitlines() == \
        {"fa": ["دستگاه‌ها: ۱ وصل، ۱ رد شده", "عقب: ۱۵ رویداد"], "en": ["Kiosks: 1 linked, 1 refused",
                                                                     "Behind: 15 events"]}[lang]
    assert by["ready_duplicate"]["button"] == words["ready.duplicates"].format(count=count[0]) and by["ready_duplicate"]["duplicates"] == 1
    assert by["done"]["duplicates"] == 1  # the kiosk does not know yet: its half of the LAN is cut off
    assert (by["found_on_cases"]["screen"], by["found_on_cases"]["notice"]) == ("cases", "duplicate_check_in")
    assert by["found_on_cases"]["on_screen"] == "cases"
    assert by["found_on_cases"]["notice_text"] == words["notice.duplicate_check_in"]   # what staff read there
    assert by["ready_duplicate"]["notice_text"] == ""   # on Ready the red button says it, not a second line
    assert by["ready_two"]["button"] == words["ready.duplicates"].format(count=count[1])
    assert (by["duplicates"]["rows"], by["acknowledged_one"]["rows"]) == (2, 1)
    assert [by[s]["acknowledged"] for s in ("duplicates", "acknowledged_one", "all_acknowledged")] == [0, 1, 2]
    last = by["all_acknowledged"]
    assert (last["screen"], last["button"], last["notice"], last["duplicates"]) == ("ready", "", None, 0)
    assert last["on_screen"] == "ready"
    assert by["sync_in_step"]["sync"].splitlines()[1] == {"fa": "همگام", "en": "In step"}[lang]
    assert by["sync_cut_off"]["sync"].splitlines()[1].startswith({"fa": "آخرین ارتباط", "en": "Last contact"}[lang])
    assert len(list(tmp_path.glob(f"dup-{lang}-*.png"))) == len(STEPS)


def test_the_sync_cell_says_linked_refused_behind_in_step_or_since_when_cut_off() -> None:
    text = KioskRoot.sync_text
    assert text(SyncStatus(), "fa") == "" and text(SyncStatus(), "en") == ""  # one kiosk in the branch
    peers = (PeerSeen("a", True, "2026-11-25T08:00:00.000+00:00", 7), PeerSeen("b", True, "", 8))
    assert text(SyncStatus(peers), "en") == "Kiosks: 2 linked\nBehind: 15 events"
    assert text(SyncStatus(peers), "fa") == "دستگاه‌ها: ۲ وصل\nعقب: ۱۵ رویداد"
    caught_up = tuple(PeerSeen(p.device, True, p.last_contact, 0) for p in peers)
    assert text(SyncStatus(caught_up, (("x", "version"),)), "en") == "Kiosks: 2 linked, 1 refused\nIn step"
    cut_off = (PeerSeen("a", False, "2026-11-25T08:00:00.000+00:00", 7),
               PeerSeen("b", False, "2026-11-25T09:05:00.000+00:00", 0))
    assert text(SyncStatus(cut_off), "en") == "Kiosks: 0 linked\nLast contact: 12:35"  # Tehran is UTC+3:30
    assert text(SyncStatus(cut_off), "fa") == "دستگاه‌ها: ۰ وصل\nآخرین ارتباط: ساعت ۱۲:۳۵"
    assert text(SyncStatus((), (("kiosk-7a", "election"),)), "en") == "Kiosks: 0 linked, 1 refused"


def test_sync_status_from_another_thread_reaches_the_bridge(world: World, tmp_path: Path) -> None:
    installed = world.installed()
    staff = StaffBook(tmp_path / "staff.json", data_keys())
    staff.set_pin("w1", "کارمند", Role.WORKER, "246802")
    bridge = FlowBridge(CheckInFlow(Desk(installed.open_registry(), installed.open_ledger(),
                                         installed.config.rules), staff, time.monotonic))
    assert bridge.sync == SyncStatus()
    status = SyncStatus((PeerSeen("a", True, "", 3),))
    thread = threading.Thread(target=bridge.sync_changed, args=(status,))
    thread.start()
    thread.join()
    deadline = time.monotonic() + 5
    while bridge.sync != status:
        assert time.monotonic() < deadline, "the bridge never delivered"
        Clock.tick()
        time.sleep(0.01)


def test_every_new_notice_and_screen_has_words_in_both_languages() -> None:
    assert FA.keys() == EN.keys()
    assert {f"notice.{Notice.DUPLICATE_CHECK_IN.value}", "ready.duplicates", "duplicates.title",
            "duplicates.acknowledge", "duplicates.check_in", "duplicates.found"} <= FA.keys()
    assert Screen.DUPLICATES.value == "duplicates"
    assert FA["duplicates.acknowledge"] == "رؤیت شد" and "\u200c" in FA["status.sync.linked"]  # دستگاه‌ها
    assert not any(c in "0123456789" for k, v in FA.items() if k.startswith(("duplicates.", "status.sync.")) for c in v)
