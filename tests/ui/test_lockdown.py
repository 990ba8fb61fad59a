"""The real kiosk app under Xvfb: no key or close request leaves it, and changed installed files stop it serving."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from drive_lockdown import KEYS, drive_lockdown
from helpers import PEOPLE, World
from kiosk.cli import main as kiosk_main
from kiosk.core.staff import Role
from kiosk.state import LEDGER, Installed
from kiosk.ui.text import EN, FA

PIN = "135790"


def _kiosk(world: World) -> Installed:
    installed = world.installed()
    installed.staff_book().set_pin("head", "رئیس شعبه", Role.HEAD, PIN)
    return installed


def _events(state: Path) -> int:
    if not (state / LEDGER).exists():
        return 0
    db = sqlite3.connect(f"file:{state / LEDGER}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        db.close()


def _stop_recorded(state: Path, name: str) -> bool:
    """The audit log holds the stop and names the file (D150)."""
    lines = [line for path in state.glob("audit.log*") for line in path.read_text("utf-8", "replace").splitlines()]
    return any('"D150"' in line and name in line for line in lines)


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["exit"] == 0 and report["app_exit"] == 0, report["stderr"]   # SIGTERM still ends it cleanly
    steps = {r["step"]: r for r in report["results"]}
    for step in steps.values():
        assert step["met"], {k: step[k] for k in ("step", "received")}   # what the step sent reached the window (or the state it waits for came)
    return steps


def test_f1_esc_a_close_request_and_kivys_debug_keys_leave_the_kiosk_serving(world: World, tmp_path: Path) -> None:
    report = drive_lockdown("kiosk", "keys", _kiosk(world).state, tmp_path / "out")
    steps = _steps(report)
    assert list(steps) == ["started", *KEYS], report["stderr"]   # a key that ended the app ends the list
    for step in steps.values():
        assert step["running"], step
        assert step["overlays"] == [], step   # no settings panel, no inspector over the sign-in screen
        assert not step["rotated"], step
        assert step["screen"] == "sign_in", step
    assert report["cwd_files"] == []   # F12 took no screenshot


def _stop_screen_says(step: dict[str, Any], name: str, what_key: str) -> None:
    """Persian first, then English: stopped, which file, call the technician."""
    text = step["stop_text"]
    joined = "\n".join(text)
    assert text[0] == FA["stopped.title"]
    assert joined.index(FA["stopped.title"]) < joined.index(EN["stopped.title"])
    for words in (FA, EN):
        assert words["stopped.call"] in joined and words[f"stopped.what.{what_key}"] in joined
        assert words["stopped.kiosk"] in joined
    assert "با کارشناس فنی تماس بگیرید" in joined   # the glossary's words
    assert joined.count(name) == 2   # named in both languages
    assert step["stop_fills_window"] and step["clipped"] == [] and step["small"] == []


def test_an_edited_election_file_stops_the_kiosk_before_it_serves_anyone(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    installed = _kiosk(world)
    underage = PEOPLE["underage"].code
    settings = installed.package_dir / "election.json"
    edited = json.loads(settings.read_text("utf-8"))
    edited["date"] = "1415/03/01"   # ten years on: the ten-year-old is of age
    settings.write_text(json.dumps(edited, ensure_ascii=False, indent=1), "utf-8")
    assert kiosk_main(["check", "--state", str(installed.state), underage]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "eligible"   # what serving these files would say
    before = _events(installed.state)
    report = drive_lockdown("kiosk", "serve", installed.state, tmp_path / "out", code=underage, pin=PIN)
    steps = _steps(report)
    assert list(steps) == ["started", "stopped", "served"]
    assert steps["stopped"]["stopped"], steps["stopped"]
    _stop_screen_says(steps["stopped"], "election.json", "election")
    served = steps["served"]
    assert served["running"] and served["stopped"]
    assert (served["screen"], served["verdict"]) == (None, None)   # no flow at all: nothing of the package opened
    assert _events(installed.state) == before
    assert _stop_recorded(installed.state, "election.json")


def test_a_tampered_registry_is_caught_in_the_background_and_stops_the_running_kiosk(
        world: World, tmp_path: Path) -> None:
    installed = _kiosk(world)
    db = sqlite3.connect(installed.package_dir / "registry.sqlite")
    key, value = db.execute("SELECT k, v FROM voters ORDER BY k LIMIT 1").fetchone()
    db.execute("UPDATE voters SET v = ? WHERE k = ?", (bytes([value[0] ^ 1]) + value[1:], key))   # one record
    db.commit()
    db.close()
    before = _events(installed.state)
    report = drive_lockdown("kiosk", "serve", installed.state, tmp_path / "out", code=PEOPLE["eligible"].code,
                            pin=PIN)
    steps = _steps(report)
    assert list(steps) == ["started", "stopped", "served"]
    assert steps["stopped"]["stopped"], steps["stopped"]
    _stop_screen_says(steps["stopped"], "registry.sqlite", "registry")
    served = steps["served"]
    assert served["running"] and served["stopped"]
    # Signed out, and the PIN no longer signs anyone in: no verdict, no check-in.
    assert (served["screen"], served["verdict"]) == ("sign_in", None)
    assert _events(installed.state) == before
    assert _stop_recorded(installed.state, "registry.sqlite")
