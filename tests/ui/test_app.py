"""The real Kivy app under Xvfb, driven through sign-in, every verdict, check-in, escalation and lock."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PEOPLE, World
from kiosk.core.staff import Role
from kiosk.store.staff import StaffBook

DRIVE = Path(__file__).with_name("drive.py")
REPO = Path(__file__).resolve().parents[2]


def run_app(world: World, tmp_path: Path, lang: str) -> dict[str, object]:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (./dev test installs xvfb when run as root)")
    installed = world.installed()
    StaffBook(installed.state / "staff.json").set_pin("head", "رئیس شعبه", Role.HEAD, "1357")
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({k: PEOPLE[k].code for k in ("eligible", "underage", "deceased", "suspended")}))
    out = tmp_path / "shots"
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_ARGS": "1", "KIVY_LOG_MODE": "PYTHON",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 800x480x24", sys.executable, str(DRIVE),
                           str(installed.state), str(out), lang, str(codes), "1357"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    report["out"] = str(out)
    return report


@pytest.mark.parametrize("lang", ["fa", "en"])
def test_every_screen_and_verdict_through_the_real_app(world: World, tmp_path: Path, lang: str) -> None:
    report = run_app(world, tmp_path, lang)
    results = report["results"]
    assert isinstance(results, list) and len(results) == 15
    for step in results:
        assert step["screen"] == step["want_screen"], step
        assert step["want_verdict"] is None or step["verdict"] == step["want_verdict"], step
    by_name = {s["step"]: s for s in results}
    assert by_name["wrong_pin"]["notice"] == "wrong_pin"
    assert by_name["reader_unplugged"]["notice"] == "reader_unplugged"
    shots = sorted(p.name for p in Path(str(report["out"])).iterdir())
    assert len(shots) == 15 and all(name.startswith(lang) for name in shots)
