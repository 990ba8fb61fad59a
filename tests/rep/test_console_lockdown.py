"""The real console (`kiosk-rep`) under Xvfb: no key or close request leaves it, and changed files stop it serving."""
from __future__ import annotations

import json
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))   # the kiosk's lock-down driver

from drive_lockdown import KEYS, drive_lockdown  # noqa: E402
from helpers import World  # noqa: E402
from kiosk.core.staff import Role  # noqa: E402
from kiosk.state import Installed  # noqa: E402
from kiosk.ui.text import EN, FA  # noqa: E402

PIN = "246813"


def _console(world: World) -> Installed:
    installed = world.console()
    installed.staff_book().set_pin("rep", "نماینده فرماندار", Role.HEAD, PIN)
    return installed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["exit"] == 0 and report["app_exit"] == 0, report["stderr"]   # SIGTERM still ends it cleanly
    return {r["step"]: r for r in report["results"]}


def test_f1_esc_a_close_request_and_kivys_debug_keys_leave_the_console_serving(
        world: World, tmp_path: Path) -> None:
    port = _free_port()
    report = drive_lockdown("console", "keys", _console(world).state, tmp_path / "out", port=port)
    steps = _steps(report)
    assert list(steps) == ["started", *KEYS], report["stderr"]
    for step in steps.values():
        assert step["running"] and step["overlays"] == [] and not step["rotated"], step
        assert step["screen"] == "sign_in" and step["port_open"], step   # still serving the kiosks
    assert report["cwd_files"] == []


def _stop_recorded(state: Path, name: str) -> bool:
    lines = [line for path in state.glob("audit.log*") for line in path.read_text("utf-8", "replace").splitlines()]
    return any('"D150"' in line and name in line for line in lines)


def _says(step: dict[str, Any], name: str) -> None:
    joined = "\n".join(step["stop_text"])
    assert step["stop_text"][0] == FA["stopped.title"]
    assert joined.index(FA["stopped.console"]) < joined.index(EN["stopped.console"])
    assert FA["stopped.call"] in joined and EN["stopped.call"] in joined and joined.count(name) == 2


def test_an_edited_election_file_stops_the_console_before_it_serves_any_kiosk(
        world: World, tmp_path: Path) -> None:
    installed = _console(world)
    settings = installed.package_dir / "election.json"
    edited = json.loads(settings.read_text("utf-8"))
    edited["branches"].append({"code": "9999", "name": "شعبه ساختگی"})
    settings.write_text(json.dumps(edited, ensure_ascii=False, indent=1), "utf-8")
    port = _free_port()
    steps = _steps(drive_lockdown("console", "serve", installed.state, tmp_path / "out", pin=PIN, port=port))
    assert list(steps) == ["started", "stopped", "served"]
    for name in ("stopped", "served"):
        assert steps[name]["stopped"] and steps[name]["port_open"] is False, steps[name]
    _says(steps["stopped"], "election.json")
    assert steps["served"]["screen"] is None   # no console flow: nothing of the package was opened
    assert _stop_recorded(installed.state, "election.json")


def test_a_console_keeps_no_registry(world: World) -> None:
    """The package on the stick carries the registry for the kiosks; the console's install leaves it there."""
    installed = _console(world)
    assert (world.root / "PKG-rep1" / "registry.sqlite").is_file()
    assert not (installed.package_dir / "registry.sqlite").exists()
    assert not any(p.name.startswith("registry") for p in installed.state.rglob("*"))
    assert installed.verify_files() is None   # the missing registry is not a difference on a console
